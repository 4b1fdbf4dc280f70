package main

import (
	"context"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scimgate/scimgate/store"
)

// metrics are the Prometheus metrics served at /metrics.
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	provisioning *prometheus.CounterVec
}

func newMetrics(st store.Store) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimgate_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scimgate_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route", "method"}),
		provisioning: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimgate_changes_total", Help: "Committed changes and refused attempts by API, kind and action (from the audit trail).",
		}, []string{"api", "kind", "action"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.provisioning,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		storeCollector{st})
	return m
}

// audited counts the entries of a committed transaction.
func (m *metrics) audited(entries []store.AuditEntry) {
	for _, e := range entries {
		m.provisioning.WithLabelValues(e.API, e.Kind, e.Action).Inc()
	}
}

// middleware records every request; route is the matched pattern, with
// SCIM paths reduced to their endpoint so ids do not explode the labels.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err) // answered here, so the status counted is the one sent
		}
		route := routeLabel(c)
		method := c.Request().Method
		m.requests.WithLabelValues(route, method, strconv.Itoa(recordedStatus(c))).Inc()
		m.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

// storeCollector reports store sizes at scrape time.
type storeCollector struct{ st store.Store }

var (
	usersDesc   = prometheus.NewDesc("scimgate_store_users", "Users in the store.", nil, nil)
	groupsDesc  = prometheus.NewDesc("scimgate_store_groups", "Groups in the store.", nil, nil)
	failsDesc   = prometheus.NewDesc("scimgate_store_write_failures_total", "Writes that failed to reach storage (storage full or failing): changes, answered 503, and the search index's background batches, retried.", nil, nil)
	changesDesc = prometheus.NewDesc("scimgate_store_changes_total", "Committed changes (Update transactions' functions).", nil, nil)
	commitsDesc = prometheus.NewDesc("scimgate_store_commits_total", "Committed store transactions (each an fsync); changes/commits is the mean batch size.", nil, nil)
	commitTime  = prometheus.NewDesc("scimgate_store_commit_seconds_total", "Time committed store transactions spent committing after their changes ran (bbolt: writing pages and fsync; PostgreSQL: the last round trip); divided by the commits, the mean commit latency.", nil, nil)
	writeDesc   = prometheus.NewDesc("scimgate_store_writable", "1 while the store's writes succeed, 0 after a failed one until a write succeeds again.", nil, nil)
)

func (s storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- usersDesc
	ch <- groupsDesc
	ch <- failsDesc
	ch <- writeDesc
	ch <- changesDesc
	ch <- commitsDesc
	ch <- commitTime
}

func (s storeCollector) Collect(ch chan<- prometheus.Metric) {
	if wh, ok := s.st.(store.WriteHealth); ok {
		writable := 1.0
		if wh.WriteError() != nil {
			writable = 0
		}
		ch <- prometheus.MustNewConstMetric(failsDesc, prometheus.CounterValue, float64(wh.WriteFailures()))
		ch <- prometheus.MustNewConstMetric(writeDesc, prometheus.GaugeValue, writable)
	}
	if ws, ok := s.st.(store.WriteStats); ok {
		w := ws.WriteStats()
		ch <- prometheus.MustNewConstMetric(changesDesc, prometheus.CounterValue, float64(w.Changes))
		ch <- prometheus.MustNewConstMetric(commitsDesc, prometheus.CounterValue, float64(w.Commits))
		ch <- prometheus.MustNewConstMetric(commitTime, prometheus.CounterValue, w.Committing.Seconds())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.st.View(ctx, func(tx store.Tx) error {
		u, _ := tx.CountUsers()
		g, _ := tx.CountGroups()
		ch <- prometheus.MustNewConstMetric(usersDesc, prometheus.GaugeValue, float64(u))
		ch <- prometheus.MustNewConstMetric(groupsDesc, prometheus.GaugeValue, float64(g))
		return nil
	})
}
