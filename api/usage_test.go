package api

import (
	"encoding/json"
	"testing"
)

// TestUsageCachedTokens pins the wire shape of the prefix-cache report:
// OpenAI's usage.prompt_tokens_details.cached_tokens, present (zero
// included) whenever the server sets it, absent otherwise.
func TestUsageCachedTokens(t *testing.T) {
	tests := []struct {
		name string
		u    Usage
		want string
	}{
		{"cached", Usage{PromptTokens: 1020, CompletionTokens: 16, TotalTokens: 1036, PromptTokensDetails: &PromptTokensDetails{CachedTokens: 992}},
			`{"prompt_tokens":1020,"completion_tokens":16,"total_tokens":1036,"prompt_tokens_details":{"cached_tokens":992}}`},
		{"none cached", Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4, PromptTokensDetails: &PromptTokensDetails{}},
			`{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4,"prompt_tokens_details":{"cached_tokens":0}}`},
		{"unset", Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4},
			`{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.u)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
			var back Usage
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if (back.PromptTokensDetails == nil) != (tt.u.PromptTokensDetails == nil) ||
				back.PromptTokensDetails != nil && *back.PromptTokensDetails != *tt.u.PromptTokensDetails {
				t.Errorf("round trip: %+v, want %+v", back, tt.u)
			}
		})
	}
}
