package api

import "testing"

// TestDecodeDecodingExtensions checks ignore_eos and stop_token_ids on both
// endpoints: decoded values, their defaults, and the 400s that name the
// offending element.
func TestDecodeDecodingExtensions(t *testing.T) {
	type decoded struct {
		ignore bool
		ids    []int
	}
	valid := []struct {
		name  string
		extra string
		want  decoded
	}{
		{"absent", ``, decoded{}},
		{"nulls", `"ignore_eos":null,"stop_token_ids":null`, decoded{}},
		{"set", `"ignore_eos":true,"stop_token_ids":[2,0,2147483647]`, decoded{true, []int{2, 0, 2147483647}}},
		{"false and empty", `"ignore_eos":false,"stop_token_ids":[]`, decoded{false, []int{}}},
		{"integral decimal", `"stop_token_ids":[13.0]`, decoded{false, []int{13}}},
	}
	invalid := []struct {
		name, extra, param, code string
	}{
		{"ignore_eos string", `"ignore_eos":"yes"`, "ignore_eos", CodeInvalidType},
		{"ids not array", `"stop_token_ids":2`, "stop_token_ids", CodeInvalidType},
		{"id string", `"stop_token_ids":[1,"2"]`, "stop_token_ids[1]", CodeInvalidType},
		{"id negative", `"stop_token_ids":[-1]`, "stop_token_ids[0]", CodeIntegerBelowMin},
		{"id huge", `"stop_token_ids":[1,2,2147483648]`, "stop_token_ids[2]", CodeIntegerAboveMax},
		{"id decimal", `"stop_token_ids":[1.5]`, "stop_token_ids[0]", CodeInvalidType},
	}
	endpoints := []struct {
		name   string
		decode func(extra string) (*GenerationParams, *Error)
	}{
		{"chat", func(extra string) (*GenerationParams, *Error) {
			body := `{"model":"m","messages":[{"role":"user","content":"hi"}]`
			if extra != "" {
				body += "," + extra
			}
			r, e := DecodeChatCompletionRequest([]byte(body + "}"))
			if e != nil {
				return nil, e
			}
			return &r.GenerationParams, nil
		}},
		{"completions", func(extra string) (*GenerationParams, *Error) {
			r, e := DecodeCompletionRequest([]byte(complBody(extra)))
			if e != nil {
				return nil, e
			}
			return &r.GenerationParams, nil
		}},
	}
	for _, ep := range endpoints {
		for _, tc := range valid {
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				g, e := ep.decode(tc.extra)
				if e != nil {
					t.Fatalf("unexpected error: %v", e)
				}
				eq(t, "ignore_eos", g.IgnoreEOS, tc.want.ignore)
				eq(t, "stop_token_ids", g.StopTokenIDs, tc.want.ids)
			})
		}
		for _, tc := range invalid {
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				_, e := ep.decode(tc.extra)
				checkErr(t, e, errCase{name: tc.name, param: tc.param, code: tc.code})
			})
		}
	}
}
