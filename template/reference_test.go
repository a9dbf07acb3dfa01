package template

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/kiln-llm/kiln/internal/testmodels"
)

type refCase struct {
	ID       string          `json:"id"`
	Inputs   json.RawMessage `json:"inputs"`
	Expected *string         `json:"expected"`
	Error    *string         `json:"error"`
}

type refFile struct {
	Name     string    `json:"template_name"`
	Template string    `json:"template"`
	Cases    []refCase `json:"cases"`
}

func loadReference(t *testing.T, name string) refFile {
	t.Helper()
	path := testmodels.Reference(t, "chat_templates", name+".json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var f refFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if len(f.Cases) == 0 {
		t.Fatalf("%s has no cases", path)
	}
	return f
}

func runReference(t *testing.T, name string) {
	f := loadReference(t, name)
	tpl, err := Parse(f.Template)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	passed := 0
	for _, c := range f.Cases {
		ok := t.Run(c.ID, func(t *testing.T) {
			v, err := DecodeJSON(c.Inputs)
			if err != nil {
				t.Fatalf("DecodeJSON: %v", err)
			}
			obj, isObj := v.(Object)
			if !isObj {
				t.Fatalf("inputs are %T, want an object", v)
			}
			vars := map[string]any{}
			for _, m := range obj {
				vars[m.Key] = m.Value
			}
			got, err := tpl.Render(vars)
			switch {
			case c.Error != nil:
				if err == nil {
					t.Fatalf("Render succeeded with %q, want an error like %q", got, *c.Error)
				}
			case c.Expected != nil:
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				if got != *c.Expected {
					t.Fatalf("output differs\n got: %q\nwant: %q", got, *c.Expected)
				}
			default:
				t.Fatal("case has neither expected nor error")
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("%s: %d/%d cases passed", name, passed, len(f.Cases))
}

func TestReferenceChatML(t *testing.T)     { runReference(t, "chatml") }
func TestReferenceDeepSeekV3(t *testing.T) { runReference(t, "deepseek_v3") }
func TestReferenceGemma3(t *testing.T)     { runReference(t, "gemma3") }
func TestReferenceLlama3(t *testing.T)     { runReference(t, "llama3") }
func TestReferenceLlama3_1(t *testing.T)   { runReference(t, "llama3_1") }
func TestReferencePhi3(t *testing.T)       { runReference(t, "phi3") }
func TestReferenceQwen3(t *testing.T)      { runReference(t, "qwen3") }

// The chatml reference file carries the template of stories260K-chatml.gguf,
// which ChatML must equal byte for byte.
func TestChatMLConstantMatchesFixture(t *testing.T) {
	f := loadReference(t, "chatml")
	if f.Template != ChatML {
		t.Fatalf("ChatML differs from the fixture template\n got: %q\nwant: %q", ChatML, f.Template)
	}
}
