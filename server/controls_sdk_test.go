package server_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-llm/kiln/internal/testmodels"
	"github.com/kiln-llm/kiln/server"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// logprobTolerance is the reference README's tolerance for a float32 engine
// on the F32 stories260K model against llama.cpp's logits/.
const logprobTolerance = 1e-4

// refCase is one case of a logits/ reference file.
type refCase struct {
	Name            string `json:"name"`
	PromptTokens    []int  `json:"prompt_tokens"`
	GeneratedTokens []int  `json:"generated_tokens"`
	TopLogprobs     [][]struct {
		ID      int     `json:"id"`
		Logprob float64 `json:"logprob"`
	} `json:"top_logprobs"`
}

func loadRefCases(t *testing.T, file string) []refCase {
	t.Helper()
	b, err := os.ReadFile(testmodels.Reference(t, "logits", file))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	if len(f.Cases) == 0 {
		t.Fatalf("%s has no cases", file)
	}
	return f.Cases
}

// newFileEnv serves one model file from the shared models directory under
// the id "m" (newEnv always serves stories260K-chatml).
func newFileEnv(t *testing.T, file string, parallel int) (openai.Client, *server.Model) {
	t.Helper()
	m, err := server.Load(server.LoadOptions{Path: testmodels.Path(t, file), Engine: engineOpts(parallel, 512, 64), Workers: 1, Build: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	srv, err := server.New(server.Config{Models: []*server.Model{m}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return openai.NewClient(option.WithBaseURL(ts.URL+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0)), m
}

// comparableSteps is how many reference steps free-running greedy decoding
// must reproduce: up to the first step whose top-1/top-2 gap is below twice
// the tolerance (README: "What an engine should reproduce").
func comparableSteps(c refCase) int {
	for i, top := range c.TopLogprobs {
		if top[0].Logprob-top[1].Logprob < 2*logprobTolerance {
			return i
		}
	}
	return len(c.TopLogprobs)
}

// TestCompletionLogprobsMatchReference sends every stories260K reference
// case as a token-id prompt through openai-go (greedy, logprobs 5), streamed
// and not, and checks the generated tokens and every returned top_logprobs
// value against llama.cpp's.
func TestCompletionLogprobsMatchReference(t *testing.T) {
	cases := loadRefCases(t, "stories260K.json")
	client, m := newFileEnv(t, "stories260K.gguf", 4)
	tokText := func(id int) string { return string(m.Tokenizer.TokenBytes(id)) }
	worst := 0.0
	for _, c := range cases {
		for _, stream := range []bool{false, true} {
			name := c.Name
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				prompt := make([]int64, len(c.PromptTokens))
				for i, id := range c.PromptTokens {
					prompt[i] = int64(id)
				}
				p := openai.CompletionNewParams{
					Model:       openai.CompletionNewParamsModel(m.ID),
					Prompt:      openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: prompt},
					MaxTokens:   openai.Int(int64(len(c.GeneratedTokens))),
					Temperature: openai.Float(0),
					Logprobs:    openai.Int(5),
				}
				var lp openai.CompletionChoiceLogprobs
				if stream {
					s := client.Completions.NewStreaming(context.Background(), p)
					for s.Next() {
						for _, ch := range s.Current().Choices {
							lp.Tokens = append(lp.Tokens, ch.Logprobs.Tokens...)
							lp.TokenLogprobs = append(lp.TokenLogprobs, ch.Logprobs.TokenLogprobs...)
							lp.TopLogprobs = append(lp.TopLogprobs, ch.Logprobs.TopLogprobs...)
						}
					}
					if err := s.Err(); err != nil {
						t.Fatal(err)
					}
				} else {
					resp, err := client.Completions.New(context.Background(), p)
					if err != nil {
						t.Fatal(err)
					}
					lp = resp.Choices[0].Logprobs
				}
				steps := comparableSteps(c)
				if len(lp.Tokens) < steps || len(lp.TopLogprobs) < steps || len(lp.TokenLogprobs) < steps {
					t.Fatalf("%d tokens, %d token_logprobs, %d top_logprobs; want at least %d", len(lp.Tokens), len(lp.TokenLogprobs), len(lp.TopLogprobs), steps)
				}
				for i := 0; i < steps; i++ {
					refTop := c.TopLogprobs[i]
					if lp.Tokens[i] != tokText(c.GeneratedTokens[i]) {
						t.Fatalf("step %d: token %q, want id %d %q", i, lp.Tokens[i], c.GeneratedTokens[i], tokText(c.GeneratedTokens[i]))
					}
					if d := math.Abs(lp.TokenLogprobs[i] - refTop[0].Logprob); d > logprobTolerance {
						t.Errorf("step %d: token logprob %v, reference %v", i, lp.TokenLogprobs[i], refTop[0].Logprob)
					}
					if len(lp.TopLogprobs[i]) != 5 {
						t.Errorf("step %d: %d top_logprobs entries, want 5 (the greedy token is among them)", i, len(lp.TopLogprobs[i]))
					}
					for tok, got := range lp.TopLogprobs[i] {
						want, found := math.NaN(), false
						for _, r := range refTop {
							if tokText(r.ID) == tok {
								want, found = r.Logprob, true
								break
							}
						}
						if !found {
							t.Errorf("step %d: %q is not in the reference top 10", i, tok)
							continue
						}
						d := math.Abs(got - want)
						worst = math.Max(worst, d)
						if d > logprobTolerance {
							t.Errorf("step %d token %q: logprob %v, reference %v (diff %.2g)", i, tok, got, want, d)
						}
					}
				}
			})
		}
	}
	t.Logf("max |logprob - reference| over %d cases: %.3g", len(cases), worst)
}

// TestChatTopLogprobsGreedy checks that under temperature 0 the chosen
// token of every chat step is the first of its top_logprobs (same token,
// same value), with the maximum of 20 alternatives, sorted.
func TestChatTopLogprobsGreedy(t *testing.T) {
	client, m := newFileEnv(t, "stories260K.gguf", 2)
	p := openai.ChatCompletionNewParams{
		Model:       openai.ChatModel(m.ID),
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once upon a time")},
		MaxTokens:   openai.Int(24),
		Temperature: openai.Float(0),
		Logprobs:    openai.Bool(true),
		TopLogprobs: openai.Int(20),
	}
	for _, stream := range []bool{false, true} {
		var lps []openai.ChatCompletionTokenLogprob
		if stream {
			s := client.Chat.Completions.NewStreaming(context.Background(), p)
			for s.Next() {
				for _, c := range s.Current().Choices {
					lps = append(lps, c.Logprobs.Content...)
				}
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
		} else {
			resp, err := client.Chat.Completions.New(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			lps = resp.Choices[0].Logprobs.Content
		}
		if len(lps) == 0 {
			t.Fatalf("stream=%v: no logprobs", stream)
		}
		for i, lp := range lps {
			top := lp.TopLogprobs
			if len(top) != 20 {
				t.Fatalf("stream=%v step %d: %d alternatives, want 20", stream, i, len(top))
			}
			if top[0].Token != lp.Token || top[0].Logprob != lp.Logprob {
				t.Errorf("stream=%v step %d: chose %q %v, top entry %q %v", stream, i, lp.Token, lp.Logprob, top[0].Token, top[0].Logprob)
			}
			mass := 0.0
			for k := range top {
				mass += math.Exp(top[k].Logprob)
				if k > 0 && top[k].Logprob > top[k-1].Logprob {
					t.Errorf("stream=%v step %d: alternatives not sorted at %d", stream, i, k)
				}
			}
			if mass > 1+1e-5 {
				t.Errorf("stream=%v step %d: top-20 probability mass %v exceeds 1", stream, i, mass)
			}
		}
	}
}

// TestSeededBatchInvariance runs 8 seeded requests (temperature 1, different
// seeds) concurrently on a server with 8 slots, then each alone on a server
// with one slot: every output must be the same token for token, whatever
// shares the batch and whatever --parallel is.
func TestSeededBatchInvariance(t *testing.T) {
	batched, m := newFileEnv(t, "stories260K.gguf", 8)
	single, _ := newFileEnv(t, "stories260K.gguf", 1)
	const runs = 8
	client := batched
	gen := func(seed int64) (string, error) {
		resp, err := client.Completions.New(context.Background(), openai.CompletionNewParams{
			Model:       openai.CompletionNewParamsModel(m.ID),
			Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
			MaxTokens:   openai.Int(48),
			Temperature: openai.Float(1),
			Seed:        openai.Int(seed),
			Logprobs:    openai.Int(0),
		})
		if err != nil {
			return "", err
		}
		// The token list, joined with a separator no token contains, pins
		// the ids' spelling and not only the concatenated text.
		return strings.Join(resp.Choices[0].Logprobs.Tokens, "\x00"), nil
	}
	together := make([]string, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			together[i], errs[i] = gen(int64(1000 + i))
		}()
	}
	wg.Wait()
	client = single
	distinct := map[string]bool{}
	for i := range runs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		alone, err := gen(int64(1000 + i))
		if err != nil {
			t.Fatal(err)
		}
		if alone != together[i] {
			t.Errorf("seed %d: batched output %q differs from the output alone %q", 1000+i, together[i], alone)
		}
		distinct[alone] = true
	}
	// Different seeds at temperature 1 must not all sample alike, or the
	// comparison above would prove nothing.
	if len(distinct) < runs/2 {
		t.Errorf("only %d distinct outputs for %d seeds", len(distinct), runs)
	}
}
