package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/synth"
	"github.com/kiln-llm/kiln/tensor"
)

func TestBenchJSON(t *testing.T) {
	tests := []struct {
		name string
		typ  tensor.Type
		tied bool
	}{
		{"q8_0", tensor.Q8_0, false},
		{"f32 tied", tensor.F32, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tinyModel(t, tc.typ, tc.tied)
			out, errOut, err := kiln(t, "bench", "--model", path, "--threads", "2", "-p", "16", "-n", "8",
				"--reps", "1", "--bw-mib", "16", "--peak-time", "10ms", "--json")
			if err != nil {
				t.Fatalf("kiln bench: %v\n%s", err, errOut)
			}
			var r benchResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("output %q is not JSON: %v", out, err)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(out), &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"bandwidth_gb_s", "peak_gflop_s", "peak_fma_gflop_s", "prefill_tok_s", "prefill_gflop_s",
				"prefill_peak_share", "prefill_attention_gflop", "prefill_routes_share", "decode_tok_s", "decode_bytes_per_token", "decode_bandwidth_share",
				"decode_bandwidth_share_file", "file_bytes", "weight_bytes", "params"} {
				v, ok := raw[k].(float64)
				if !ok || !(v > 0) || math.IsInf(v, 0) {
					t.Errorf("field %s = %v, want a positive finite number", k, raw[k])
				}
			}
			if r.PromptTokens != 16 || r.GenTokens != 8 || r.Threads != 2 {
				t.Errorf("echoed settings p=%d n=%d threads=%d, want 16 8 2", r.PromptTokens, r.GenTokens, r.Threads)
			}
			if r.Type != tc.typ.String() {
				t.Errorf("type %q, want %q", r.Type, tc.typ)
			}
			// Quantized prefill is held against the 8-bit peak of its
			// kernels' instructions, float against FMA.
			if want := tensor.Route(tc.typ); r.PeakRoute != want || (want == "fma") == tensor.IntegerRoute(tc.typ) {
				t.Errorf("peak route %q, want %q", r.PeakRoute, want)
			}
			// tiny: 2 layers of wq, wo (64x64), wk, wv (64x32) and three 64x160
			// feed-forward matrices.
			if want := int64(2 * (2*64*64 + 2*64*32 + 3*64*160)); r.Params != want {
				t.Errorf("params %d, want %d", r.Params, want)
			}
			if r.WeightBytes >= r.FileBytes {
				t.Errorf("weight bytes read per token %d not below the file size %d", r.WeightBytes, r.FileBytes)
			}
			// tiny: 2 layers of 4 heads of 16, queries times keys and
			// weights times values over the causal triangle of 16 tokens.
			if want := 2 * 2 * 4 * (16 + 16) * 16 * 17 / 2 / 1e9; math.Abs(r.PrefillAttnGFLOP-want) > 1e-12 {
				t.Errorf("attention %g GFLOP, want %g", r.PrefillAttnGFLOP, want)
			}
			// The two-route share: the weights' work at the route's peak,
			// attention's at the FMA peak, over the prefill's time; on the
			// FMA route it is the plain share.
			secs := float64(r.PromptTokens) / r.PrefillTokS
			weights := r.PrefillGFLOP*secs - r.PrefillAttnGFLOP
			want := (weights/r.PeakGFLOPs + r.PrefillAttnGFLOP/r.PeakFMAGFLOPs) / secs
			if r.PeakRoute == "fma" {
				want = r.PrefillShare
				if r.PeakFMAGFLOPs != r.PeakGFLOPs {
					t.Errorf("fma route: FMA peak %g differs from the route's %g", r.PeakFMAGFLOPs, r.PeakGFLOPs)
				}
			}
			if math.Abs(r.PrefillRoutesShare-want) > 1e-9*want {
				t.Errorf("two-route prefill share %g, want %g", r.PrefillRoutesShare, want)
			}
			// The ratios cannot exceed the limit by much; a large excess means
			// the byte or FLOP accounting is wrong.
			if r.DecodeShare > 2 || r.PrefillShare > 2 {
				t.Errorf("shares decode %.2f prefill %.2f exceed the physical limit", r.DecodeShare, r.PrefillShare)
			}
			// tiny: 2 layers, 2 KV heads of 16, keys and values, 24
			// positions in F16, the default.
			if want := int64(2 * 2 * (16 + 16) * 2 * 24); r.KVBytes != want || r.KVType != "f16" {
				t.Errorf("KV %d bytes of %s, want %d of f16", r.KVBytes, r.KVType, want)
			}
			if runtime.GOOS == "linux" && (r.RSSBytes < r.FileBytes || r.RSSBytes > 4<<30) {
				t.Errorf("resident bytes %d: want at least the file (%d) and far below 4 GiB", r.RSSBytes, r.FileBytes)
			}
		})
	}
}

func TestBenchTable(t *testing.T) {
	path := tinyModel(t, tensor.F32, false)
	out, errOut, err := kiln(t, "bench", "--model", path, "-p", "4", "-n", "2", "--depth", "3", "--reps", "1", "--bw-mib", "8", "--peak-time", "5ms")
	if err != nil {
		t.Fatalf("kiln bench: %v\n%s", err, errOut)
	}
	for _, want := range []string{"tok/s", "limit", "share", "prefill 4", "decode 2 @ 3", "GFLOP/s", "GB/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := kiln(t, "bench", "--model", path, "-p", "0"); err == nil {
		t.Error("bench -p 0: no error")
	}
	if _, _, err := kiln(t, "bench", "--model", path, "-p", "4", "--depth", "5"); err == nil {
		t.Error("bench --depth beyond -p: no error")
	}
}

func TestBenchConcurrency(t *testing.T) {
	path := tinyModel(t, tensor.F32, false)
	out, errOut, err := kiln(t, "bench", "--model", path, "--threads", "2", "-p", "8", "-n", "6",
		"--concurrency", "1,3", "--rounds", "2", "--prefix", "30", "--batch-tokens", "4", "--temperature", "1", "--json")
	if err != nil {
		t.Fatalf("kiln bench --concurrency: %v\n%s", err, errOut)
	}
	var r httpResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output %q is not JSON: %v", out, err)
	}
	if p := r.Prefix; p == nil || p.PromptTokens < 30 || !(p.ColdTTFTms > 0) || !(p.WarmTTFTms > 0) || p.WarmCached > p.PromptTokens {
		t.Errorf("prefix run %+v: want a prompt of at least 30 tokens, both TTFTs positive, cached <= prompt", p)
	}
	if len(r.Levels) != 2 {
		t.Fatalf("%d levels, want 2: %s", len(r.Levels), out)
	}
	for i, clients := range []int{1, 3} {
		l := r.Levels[i]
		if l.Clients != clients || l.Requests != 2*clients {
			t.Errorf("level %d: clients %d requests %d, want %d and %d", i, l.Clients, l.Requests, clients, 2*clients)
		}
		// ignore_eos: every request generates exactly -n tokens.
		if l.CompletionTokens != 6*l.Requests {
			t.Errorf("level %d: %d completion tokens, want %d", i, l.CompletionTokens, 6*l.Requests)
		}
		if l.PromptTokens < 8 {
			t.Errorf("level %d: prompt of %d tokens, want at least 8", i, l.PromptTokens)
		}
		for name, v := range map[string]float64{"tok/s": l.AggregateTokS, "decode tok/s": l.DecodeTokS, "TTFT p50": l.TTFTp50ms, "ITL p99": l.ITLp99ms} {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("level %d: %s = %v, want positive and finite", i, name, v)
			}
		}
		// One client's stream decodes alone from its first token to its
		// last: the two rates are the same up to the gaps' rounding to
		// nanoseconds.
		if clients == 1 && math.Abs(l.AllDecodingTokS-l.DecodeTokS) > 1e-3*l.DecodeTokS {
			t.Errorf("level %d: all-decoding rate %v, want the decode rate %v", i, l.AllDecodingTokS, l.DecodeTokS)
		}
		if l.TTFTp50ms > l.TTFTp99ms || l.ITLp50ms > l.ITLp99ms {
			t.Errorf("level %d: p50 above p99: %+v", i, l)
		}
	}
	for _, bad := range []string{"0", "1,x", ""} {
		if _, _, err := kiln(t, "bench", "--model", path, "--concurrency", bad+","); err == nil {
			t.Errorf("--concurrency %q,: no error", bad)
		}
	}
	if _, _, err := kiln(t, "bench", "--model", path, "--concurrency", "1", "--batch-tokens", "0"); err == nil {
		t.Error("--batch-tokens 0: no error")
	}
	for _, bad := range []string{"-1", "2.5", "NaN"} {
		if _, _, err := kiln(t, "bench", "--model", path, "--concurrency", "1", "--temperature", bad); err == nil {
			t.Errorf("--temperature %s: no error", bad)
		}
	}
}

func TestAllDecodingRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// at turns milliseconds after t0 into arrival times.
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	cases := []struct {
		name    string
		streams [][]time.Time
		n       int
		want    float64 // tokens per second
	}{
		// One stream: the tokens after its first over the time from first to last.
		{"one", [][]time.Time{at(0, 10, 20, 30, 40)}, 1, 4 / 0.040},
		// The second stream's prompt delays the first's tokens 10->100; only
		// from 100 to 140 do both decode: 4 + 4 tokens in 40 ms.
		{"staggered", [][]time.Time{at(0, 100, 110, 120, 130, 140), at(100, 110, 120, 130, 140)}, 2, 8 / 0.040},
		// The first stream's tokens before the window and its first chunk's
		// two tokens (arriving together) do not count; the window closes
		// when the first stream ends at 120: tokens 110 and 120 of each.
		{"first chunk and end", [][]time.Time{at(0, 0, 50, 110, 120), at(100, 100, 110, 120, 130, 200)}, 2, 4 / 0.020},
		// Never both decoding: one ends as the other begins.
		{"disjoint", [][]time.Time{at(0, 10, 20), at(20, 30, 40)}, 2, 0},
		// A stream whose tokens came in one chunk never decodes.
		{"one chunk", [][]time.Time{at(0, 10, 20), at(5, 5)}, 2, 0},
		// Two windows of three clients: a client's second request overlaps
		// the others again (20 ms with 2+2+2, 10 ms with 1+1+1 tokens).
		{"rounds", [][]time.Time{at(0, 10, 20), at(0, 10, 20, 30, 40), at(0, 10, 20, 30, 40, 50), at(30, 40)}, 3, 9 / 0.030},
	}
	for _, c := range cases {
		if got := allDecodingRate(c.streams, c.n); math.Abs(got-c.want) > 1e-9*c.want {
			t.Errorf("%s: %v tok/s, want %v", c.name, got, c.want)
		}
	}
}

// tinyModel writes the tiny preset with weights of type typ (tied: the
// output projection is the embedding) to a temporary file.
func tinyModel(t *testing.T, typ tensor.Type, tied bool) string {
	t.Helper()
	s, err := synth.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	s.Type, s.Tied = typ, tied
	w, err := synth.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}
