package pgtest_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store/postgres/pgtest"
)

// A test binary killed before its cleanups run (a -timeout panic, SIGKILL)
// leaves no server running and no files: the watchdog stops the cluster
// and removes it.
func TestClusterOutlivesNoKilledBinary(t *testing.T) {
	if os.Getenv("PGTEST_HELPER") == "1" {
		s, err := pgtest.New()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(s.Dir(), s.Port())
		time.Sleep(time.Minute) // killed long before
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterOutlivesNoKilledBinary$")
	cmd.Env = append(os.Environ(), "PGTEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said nothing: %v", err)
	}
	fields := strings.Fields(line)
	if len(fields) != 2 || fields[0] == "error" {
		cmd.Process.Kill()
		cmd.Wait()
		if strings.Contains(line, pgtest.Install) {
			t.Skip(pgtest.Install)
		}
		t.Fatalf("helper: %s", line)
	}
	dir, port := fields[0], fields[1]
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("helper printed %q", line)
	}
	up := func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	if !up() {
		t.Fatal("the helper's cluster does not listen")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup runs
		t.Fatal(err)
	}
	cmd.Wait()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, statErr := os.Stat(dir)
		if !up() && os.IsNotExist(statErr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the binary died: server listening %v, files %v", up(), statErr)
		}
	}
}
