package webapi

var authenticationController = controller{Path: "api/authentication", Since: "6.0", Desc: "Handle authentication.", Action: []action{
	{Key: "login", Post: true, Since: "6.0", Access: anyone, Handle: login,
		Desc: "Authenticate a user with a login and password and open a session (cookies). The session ends after the idle timeout, on logout, when the password changes or when the user is deactivated. POSTs made with the session must send the XSRF-TOKEN cookie's value in the X-XSRF-TOKEN header.",
		Params: []param{
			{Key: "login", Desc: "Login of the user", Required: true},
			{Key: "password", Desc: "Password of the user", Required: true, Untrimmed: true},
		}},
	{Key: "logout", Post: true, Since: "6.3", Access: anyone, Handle: logout,
		Desc: "Log out the user of the session."},
	{Key: "validate", Since: "3.3", AnyVerb: true, Access: anyone, Handle: validateAuth,
		Desc: "Check credentials: always 200, {\"valid\":true} for a valid user and {\"valid\":false} for none or bad ones (authentication is forced)."},
}}

var webservicesController = controller{Path: "api/webservices", Since: "4.2", Desc: "Get information on the web api supported on this instance.", Action: []action{
	{Key: "list", Since: "4.2", Access: loggedIn, Handle: listWebServices,
		Desc:   "List web services",
		Params: []param{{Key: "include_internals", Desc: "Include web services that are implemented for internal use only. Their forward-compatibility is not assured", Values: boolValues, Default: "false", Since: "5.3"}}},
}}

func validateAuth(cl *call) error {
	return cl.json(map[string]bool{"valid": cl.caller != nil})
}

// listWebServices describes every action from the same table that routes
// and validates them, so the description cannot drift from the behaviour.
func listWebServices(cl *call) error {
	type paramJSON struct {
		Key            string   `json:"key"`
		Description    string   `json:"description"`
		Internal       bool     `json:"internal"`
		Required       bool     `json:"required"`
		DefaultValue   string   `json:"defaultValue,omitempty"`
		ExampleValue   string   `json:"exampleValue,omitempty"`
		PossibleValues []string `json:"possibleValues,omitempty"`
		MaximumLength  int      `json:"maximumLength,omitempty"`
		MinimumLength  int      `json:"minimumLength,omitempty"`
		MaximumValue   int      `json:"maximumValue,omitempty"`
		Since          string   `json:"since,omitempty"`
	}
	type actionJSON struct {
		Key                string      `json:"key"`
		Description        string      `json:"description"`
		Since              string      `json:"since"`
		Internal           bool        `json:"internal"`
		Post               bool        `json:"post"`
		HasResponseExample bool        `json:"hasResponseExample"`
		Changelog          []string    `json:"changelog"`
		Params             []paramJSON `json:"params,omitempty"`
	}
	type serviceJSON struct {
		Path        string       `json:"path"`
		Since       string       `json:"since"`
		Description string       `json:"description"`
		Actions     []actionJSON `json:"actions"`
	}
	internals := cl.bool("include_internals")
	services := []serviceJSON{}
	for _, ctl := range cl.api.controllers {
		s := serviceJSON{Path: ctl.Path, Since: ctl.Since, Description: ctl.Desc, Actions: []actionJSON{}}
		for _, a := range ctl.Action {
			if a.Internal && !internals {
				continue
			}
			aj := actionJSON{Key: a.Key, Description: a.Desc, Since: a.Since, Internal: a.Internal, Post: a.Post, Changelog: []string{}}
			for _, p := range a.Params {
				pj := paramJSON{Key: p.Key, Description: p.Desc, Internal: p.Internal, Required: p.Required,
					DefaultValue: p.Default, ExampleValue: p.Example, PossibleValues: p.Values,
					MaximumLength: p.MaxLen, MinimumLength: p.MinLen, MaximumValue: p.MaxValue, Since: p.Since}
				if p.Multi {
					pj.Description += " (repeat the parameter for several values)"
				}
				aj.Params = append(aj.Params, pj)
			}
			s.Actions = append(s.Actions, aj)
		}
		services = append(services, s)
	}
	return cl.json(map[string]any{"webServices": services})
}
