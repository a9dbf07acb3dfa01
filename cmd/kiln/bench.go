package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/kiln-llm/kiln/bench"
	"github.com/kiln-llm/kiln/engine"
	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/sample"
	"github.com/kiln-llm/kiln/server"
	"github.com/kiln-llm/kiln/synth"
	"github.com/kiln-llm/kiln/tensor"
)

// benchResult is what `kiln bench --json` prints. Rates are per second;
// shares are measured figure / physical limit on this machine.
type benchResult struct {
	Model        string `json:"model"`
	Arch         string `json:"arch"`
	Type         string `json:"type"` // tensor type holding most weight bytes
	Threads      int    `json:"threads"`
	PromptTokens int    `json:"prompt_tokens"`
	GenTokens    int    `json:"gen_tokens"`
	Depth        int    `json:"depth"` // cached positions before the decoded ones
	Reps         int    `json:"reps"`

	FileBytes   int64 `json:"file_bytes"`
	WeightBytes int64 `json:"weight_bytes"` // tensor bytes read per decoded token
	Params      int64 `json:"params"`       // weights multiplied per prompt token

	BandwidthGBs float64 `json:"bandwidth_gb_s"`
	// PeakGFLOPs is the arithmetic peak of the route the model's main type
	// takes in MatMul: float32 FMA, or 8-bit multiply-adds for types on the
	// integer route, AVX2's or AVX512-VNNI's (PeakRoute: tensor.Route).
	PeakGFLOPs float64 `json:"peak_gflop_s"`
	PeakRoute  string  `json:"peak_route"`
	// PeakFMAGFLOPs is the float32 FMA peak, the route of attention
	// (queries, keys and values in float32) whatever the weights' type.
	PeakFMAGFLOPs float64 `json:"peak_fma_gflop_s"`

	PrefillTokS  float64 `json:"prefill_tok_s"`
	PrefillGFLOP float64 `json:"prefill_gflop_s"`
	// PrefillShare holds all of a prefill's work, attention included,
	// against PeakGFLOPs.
	PrefillShare float64 `json:"prefill_peak_share"`
	// PrefillAttnGFLOP is the attention part of that work, in GFLOP.
	PrefillAttnGFLOP float64 `json:"prefill_attention_gflop"`
	// PrefillRoutesShare is the time the prefill would take with the
	// weight products at PeakGFLOPs and attention at PeakFMAGFLOPs, over
	// the time it took: the limit of both routes the work takes. On the
	// integer route attention runs at a fraction of the 8-bit peak, so
	// PrefillShare cannot reach 1 even with every kernel at its peak.
	PrefillRoutesShare float64 `json:"prefill_routes_share"`

	DecodeTokS        float64 `json:"decode_tok_s"`
	DecodeBytesPerTok float64 `json:"decode_bytes_per_token"` // weights + mean KV read
	DecodeShare       float64 `json:"decode_bandwidth_share"`
	DecodeShareFile   float64 `json:"decode_bandwidth_share_file"` // file size instead of bytes read, as the peer table counts

	// Resident memory of the process right after a run (Linux; 0
	// elsewhere; the bandwidth scan's buffer is returned to the OS first),
	// against the budget the issue sets: the model file, the KV cache the
	// run used, and 150 MB for everything else.
	RSSBytes int64  `json:"rss_bytes,omitempty"`
	KVBytes  int64  `json:"kv_bytes"`
	KVType   string `json:"kv_type"`

	// LoadAvg is the 1-minute load average at the end (Linux; 0 elsewhere):
	// above the thread count, other processes shared the cores.
	LoadAvg float64 `json:"load_avg,omitempty"`
}

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := modelFlag(fs)
	threads := fs.Int("threads", 0, "worker goroutines for the model and the measurements (default: one per CPU)")
	prompt := fs.Int("p", 512, "prompt tokens to prefill in one batch (words with --concurrency)")
	gen := fs.Int("n", 128, "tokens to decode one at a time")
	depth := fs.Int("depth", 0, "cached positions decoding starts after (at most -p): 0 decodes from an empty context, as llama-bench's tg test does")
	reps := fs.Int("reps", 2, "repetitions; the best of each figure is kept")
	bwMiB := fs.Int("bw-mib", 1024, "buffer size of the bandwidth scan in MiB (much larger than the caches)")
	peakDur := fs.Duration("peak-time", 300*time.Millisecond, "duration of each FMA peak pass")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	concurrency := fs.String("concurrency", "", "comma-separated client counts (e.g. 1,4,8): stream -n tokens per request through the HTTP server, run in-process on 127.0.0.1")
	rounds := fs.Int("rounds", 2, "requests per client with --concurrency")
	temperature := fs.Float64("temperature", 0, "with --concurrency: the requests' sampling temperature (0 greedy; OpenAI's default is 1, which draws from the whole vocabulary every token)")
	kvType := kvTypeFlag(fs)
	mmap := mmapFlag(fs)
	batchTokens := batchTokensFlag(fs)
	stepTgt := stepTargetFlag(fs)
	prefix := fs.Int("prefix", 0, "with --concurrency: first time two requests that share a prefix of this many words (a system prompt) and differ after it, to show what the prefix cache saves")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *threads == 0 {
		*threads = runtime.NumCPU()
	}
	if *threads < 0 || *prompt < 1 || *gen < 1 || *reps < 1 || *bwMiB < 1 || *peakDur <= 0 || *depth < 0 || *depth > *prompt {
		return fmt.Errorf("bench: --threads must be >= 0, -p, -n, --reps, --bw-mib, --peak-time positive and --depth in [0, -p]")
	}
	kv, err := parseKV(*kvType)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *concurrency != "" {
		levels, err := parseLevels(*concurrency)
		if err != nil {
			return err
		}
		if *threads < 0 || *prompt < 1 || *gen < 1 || *rounds < 1 || *prefix < 0 || *batchTokens < 1 || !(*temperature >= 0 && *temperature <= 2) {
			return fmt.Errorf("bench: --threads and --prefix must be >= 0 and -p, -n, --rounds, --batch-tokens positive, --temperature in [0, 2]")
		}
		return benchHTTP(ctx, httpBench{path: *modelPath, threads: *threads, kv: kv, mmap: *mmap, levels: levels, prompt: *prompt,
			gen: *gen, rounds: *rounds, prefix: *prefix, batchTokens: *batchTokens, stepTarget: stepTarget(*stepTgt), temperature: *temperature}, *asJSON, stdout, stderr)
	}
	l, err := load(*modelPath, &model.Options{Workers: *threads, KV: kv}, placement(*mmap), stderr)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer l.Close()
	m := l.model
	cf := &m.Config
	limitHeap(int64(m.NewCache(1, 1).PositionBytes()) * int64(*prompt+*gen))
	if *prompt+*gen > cf.CtxTrain && cf.CtxTrain > 0 {
		return fmt.Errorf("bench: -p %d + -n %d exceeds the model's context of %d", *prompt, *gen, cf.CtxTrain)
	}

	r := benchResult{
		Model: l.file.Path, Arch: cf.Arch, Threads: *threads,
		PromptTokens: *prompt, GenTokens: *gen, Depth: *depth, Reps: *reps,
		FileBytes: l.file.Size(),
	}
	var outParams int64
	r.Type, r.WeightBytes, r.Params, outParams = weightStats(l.file, cf)

	// The limits are measured again with every repetition (the bandwidth
	// before and after it) and the best kept: on a shared machine a single
	// measurement taken while a neighbour is busy understates them and
	// makes every share look too good.
	peakFn := bench.Peak
	r.PeakRoute = "fma"
	if t, err := tensor.ParseType(r.Type); err == nil {
		r.PeakRoute = tensor.Route(t)
		switch r.PeakRoute {
		case "int8":
			peakFn = bench.PeakInt8
		case "vnni":
			peakFn = bench.PeakVNNI
		}
	}
	var bw, peak, fma float64
	var prefill, decode time.Duration
	// The scan's buffer is far above the heap limit the model runs under:
	// lifted, or the collector would fight the scan.
	scan := func() error {
		limit := debug.SetMemoryLimit(math.MaxInt64)
		b, err := bench.Bandwidth(ctx, *threads, *bwMiB<<20, 2)
		debug.SetMemoryLimit(limit)
		bw = max(bw, b)
		debug.FreeOSMemory()
		return err
	}
	for i := range *reps {
		if err := scan(); err != nil {
			return err
		}
		pk, err := peakFn(ctx, *threads, *peakDur)
		if err != nil {
			return err
		}
		pf := pk
		if r.PeakRoute != "fma" {
			if pf, err = bench.Peak(ctx, *threads, *peakDur); err != nil {
				return err
			}
		}
		peak, fma = max(peak, pk), max(fma, pf)
		p, d, err := prefillDecode(ctx, m, *prompt, *gen, *depth)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		r.RSSBytes = max(r.RSSBytes, residentBytes())
		// The bandwidth this host gives swings between about 30 and 65
		// GB/s within seconds; a scan after the run as well as before it
		// makes a decode that caught a fast moment less likely to be held
		// against a scan that caught a slow one.
		if err := scan(); err != nil {
			return err
		}
		if i == 0 || p < prefill {
			prefill = p
		}
		if i == 0 || d < decode {
			decode = d
		}
	}
	r.BandwidthGBs, r.PeakGFLOPs, r.PeakFMAGFLOPs = bw/1e9, peak/1e9, fma/1e9
	r.LoadAvg = loadAvg()
	// Keys and values of every position over all layers, in the cache's
	// element type (asked of an empty cache, which allocates nothing).
	posBytes := int64(m.NewCache(1, 1).PositionBytes())
	r.KVType = kv.String()
	r.KVBytes = posBytes * int64(*prompt+*gen)
	r.PrefillTokS = float64(*prompt) / prefill.Seconds()
	r.DecodeTokS = float64(*gen) / decode.Seconds()

	// Prefill work: every layer matrix times every prompt token, the output
	// matrix for the one token whose logits are wanted, and attention
	// (q·k and weights·v over the causal triangle).
	p := float64(*prompt)
	attn := 2 * float64(cf.Layers) * float64(cf.Heads) * float64(cf.HeadDim+cf.HeadDimV) * p * (p + 1) / 2
	weights := 2*float64(r.Params)*p + 2*float64(outParams)
	r.PrefillGFLOP = (weights + attn) / prefill.Seconds() / 1e9
	r.PrefillShare = r.PrefillGFLOP / r.PeakGFLOPs
	r.PrefillAttnGFLOP = attn / 1e9
	r.PrefillRoutesShare = (weights/peak + attn/fma) / prefill.Seconds()

	// Decode reads every weight once per token plus the cached keys and
	// values of every earlier position (mean context over the decoded span).
	meanCtx := float64(*depth) + float64(*gen+1)/2
	r.DecodeBytesPerTok = float64(r.WeightBytes) + float64(posBytes)*meanCtx
	r.DecodeShare = r.DecodeTokS * r.DecodeBytesPerTok / bw
	r.DecodeShareFile = r.DecodeTokS * float64(r.FileBytes) / bw

	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(r)
	}
	return printBench(stdout, &r)
}

// weightStats returns the tensor type holding most weight bytes, the bytes
// of weights read per decoded token, the parameters multiplied per prompt
// token in the layers, and those of the output projection. The embedding table
// is only gathered (one row per token) unless it doubles as the output.
func weightStats(f *gguf.File, cf *model.Config) (typ string, readBytes, layerParams, outParams int64) {
	byType := map[string]int64{}
	_, hasOutput := f.Tensor("output.weight")
	for i := range f.Tensors {
		t := &f.Tensors[i]
		b, n := int64(t.Bytes()), int64(t.Elements())
		if len(t.Dims) >= 2 {
			byType[t.Type.String()] += b
		}
		switch {
		case t.Name == "token_embd.weight" && hasOutput:
			readBytes += b / int64(max(cf.Vocab, 1))
		case t.Name == "token_embd.weight":
			readBytes += b
			outParams += n
		case t.Name == "output.weight":
			readBytes += b
			outParams += n
		default:
			readBytes += b
			if len(t.Dims) >= 2 {
				layerParams += n
			}
		}
	}
	var most int64
	for name, b := range byType {
		if b > most || (b == most && name < typ) {
			typ, most = name, b
		}
	}
	return typ, readBytes, layerParams, outParams
}

// prefillDecode times one Forward of p prompt tokens (logits of the last
// only) on a fresh cache, then n single-token Forward calls feeding back the
// argmax after the first depth positions of the prompt.
func prefillDecode(ctx context.Context, m *model.Model, p, n, depth int) (prefill, decode time.Duration, err error) {
	c := m.NewCache(1, p+n)
	vocab := m.Config.Vocab
	b := &model.Batch{
		Tokens: make([]int, p), Pos: make([]int, p),
		Seq: make([]int, p), Output: make([]bool, p),
	}
	for i := range p {
		// Arbitrary, deterministic, spread over the vocabulary.
		b.Tokens[i] = (i*7919 + 13) % vocab
		b.Pos[i] = i
	}
	b.Output[p-1] = true
	t0 := time.Now()
	logits, err := m.Forward(ctx, c, b)
	if err != nil {
		return 0, 0, fmt.Errorf("prefill: %w", err)
	}
	prefill = time.Since(t0)
	if len(logits) != 1 {
		return 0, 0, errors.New("prefill: no logits")
	}
	next := sample.Greedy(logits[0])
	c.Truncate(0, depth)
	one := &model.Batch{Tokens: []int{0}, Pos: []int{0}, Seq: []int{0}, Output: []bool{true}}
	t0 = time.Now()
	for i := range n {
		one.Tokens[0], one.Pos[0] = next, depth+i
		logits, err := m.Forward(ctx, c, one)
		if err != nil {
			return 0, 0, fmt.Errorf("decode token %d: %w", i, err)
		}
		next = sample.Greedy(logits[0])
	}
	return prefill, time.Since(t0), nil
}

// residentBytes reads the process's resident set size (VmRSS), or 0 where
// /proc is absent. Mapped weight pages count once touched, which is why the
// budget includes the whole file.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscan(v, &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// loadAvg reads the 1-minute load average, or 0 where /proc is absent.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	if _, err := fmt.Sscan(string(b), &v); err != nil {
		return 0
	}
	return v
}

func printBench(w io.Writer, r *benchResult) error {
	fmt.Fprintf(w, "model %s: %s %s, %.0f MB file, %.0f MB of weights read per token, %d threads\n\n",
		r.Model, r.Arch, r.Type, float64(r.FileBytes)/1e6, float64(r.WeightBytes)/1e6, r.Threads)
	if r.LoadAvg > float64(r.Threads) {
		fmt.Fprintf(w, "warning: load average %.1f exceeds %d threads: other processes shared the cores\n\n", r.LoadAvg, r.Threads)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\ttok/s\tachieved\tlimit\tshare\tshare by file size\t\n")
	fmt.Fprintf(tw, "prefill %d\t%.1f\t%.1f GFLOP/s\t%.1f GFLOP/s %s\t%.1f%%\t\t\n",
		r.PromptTokens, r.PrefillTokS, r.PrefillGFLOP, r.PeakGFLOPs, r.PeakRoute, 100*r.PrefillShare)
	fmt.Fprintf(tw, "decode %d @ %d\t%.1f\t%.2f GB/s\t%.2f GB/s\t%.1f%%\t%.1f%%\t\n",
		r.GenTokens, r.Depth, r.DecodeTokS, r.DecodeTokS*r.DecodeBytesPerTok/1e9, r.BandwidthGBs, 100*r.DecodeShare, 100*r.DecodeShareFile)
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.PeakRoute != "fma" {
		fmt.Fprintf(w, "\nprefill against both routes (weights at %.1f GFLOP/s %s, attention's %.1f GFLOP in float32 at %.1f GFLOP/s fma): %.1f%%\n",
			r.PeakGFLOPs, r.PeakRoute, r.PrefillAttnGFLOP, r.PeakFMAGFLOPs, 100*r.PrefillRoutesShare)
	}
	if r.RSSBytes > 0 {
		budget := r.FileBytes + r.KVBytes + 150e6
		fmt.Fprintf(w, "\nmemory: RSS %.0f MB after the run; budget %.0f MB (file %.0f + KV %.0f + 150): %.0f%% of it\n",
			float64(r.RSSBytes)/1e6, float64(budget)/1e6, float64(r.FileBytes)/1e6, float64(r.KVBytes)/1e6,
			100*float64(r.RSSBytes)/float64(budget))
	}
	return nil
}

// httpLevel is one concurrency level of `kiln bench --concurrency`.
type httpLevel struct {
	Clients          int     `json:"clients"`
	Requests         int     `json:"requests"`
	PromptTokens     int     `json:"prompt_tokens"` // per request, as the server counted them
	CompletionTokens int     `json:"completion_tokens"`
	Seconds          float64 `json:"seconds"`
	AggregateTokS    float64 `json:"aggregate_tok_s"`
	// DecodeTokS is the rate at which the clients together receive tokens
	// once their streams are going: clients over the mean gap between
	// tokens. AggregateTokS also counts the time spent on the prompts,
	// which with 8 clients arriving at once is a third of the run.
	DecodeTokS float64 `json:"decode_tok_s"`
	// AllDecodingTokS is the rate at which the clients together receive
	// tokens while every one of them has a stream between its first and last
	// token: the decode rate of Clients streams, without the gaps in which
	// the server computed other clients' prompts (zero if the streams never
	// all decoded at once).
	AllDecodingTokS float64 `json:"all_decoding_tok_s"`
	TTFTp50ms       float64 `json:"ttft_p50_ms"`
	TTFTp99ms       float64 `json:"ttft_p99_ms"`
	// TTFT is the time to the first chunk carrying a token; ITL the time
	// between tokens. A chunk may carry several tokens (or text held back
	// for partial UTF-8): logprobs name them, and k tokens arriving after a
	// gap g count as k gaps of g/k.
	ITLp50ms float64 `json:"itl_p50_ms"`
	ITLp99ms float64 `json:"itl_p99_ms"`
}

type httpResult struct {
	Model   string      `json:"model"`
	Threads int         `json:"threads"`
	Prefix  *prefixRun  `json:"prefix,omitempty"`
	Levels  []httpLevel `json:"levels"`
	LoadAvg float64     `json:"load_avg,omitempty"`
}

// prefixRun is the --prefix measurement: two requests that share a long
// prefix, the second arriving after the first finished.
type prefixRun struct {
	PromptTokens int     `json:"prompt_tokens"`
	ColdTTFTms   float64 `json:"cold_ttft_ms"`
	WarmTTFTms   float64 `json:"warm_ttft_ms"`
	WarmCached   int     `json:"warm_cached_tokens"` // as usage reported it
	Speedup      float64 `json:"speedup"`
}

// httpBench is what `kiln bench --concurrency` was asked to measure.
type httpBench struct {
	path                        string
	threads                     int
	kv                          model.KVType
	mmap                        bool
	levels                      []int
	prompt, gen, rounds, prefix int
	batchTokens                 int
	stepTarget                  time.Duration
	temperature                 float64
}

// parseLevels parses "1,4,8" into positive client counts.
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("bench: --concurrency %q: want comma-separated client counts in 1..1024", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchHTTP serves the model on a loopback port in-process and, for each
// level, lets that many clients stream rounds completions each of gen tokens
// (ignore_eos, so every request costs the same) through the real HTTP stack.
// Measuring through HTTP rather than the engine keeps what users feel in the
// figures: queueing, SSE framing and detokenization included.
func benchHTTP(ctx context.Context, hb httpBench, asJSON bool, stdout, stderr io.Writer) error {
	path, threads, levels, prompt, gen, rounds := hb.path, hb.threads, hb.levels, hb.prompt, hb.gen, hb.rounds
	if path == "" {
		p, err := synth.DefaultModelPath("")
		if err != nil {
			return err
		}
		fmt.Fprintln(stderr, synth.DefaultNotice)
		path = p
	}
	most := slices.Max(levels)
	m, err := server.Load(server.LoadOptions{
		Path: path, Workers: threads, Build: buildID(), Mmap: hb.mmap,
		Engine: engine.Options{KV: model.CacheOptions{Type: hb.kv}, Parallel: most, Ctx: 4*max(prompt, hb.prefix+8) + gen + 64, Queue: most * rounds,
			MaxBatchTokens: hb.batchTokens, StepTarget: hb.stepTarget},
	})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer m.Close()
	limitHeap(kvBytes([]*server.Model{m}))
	srv, err := server.New(server.Config{Models: []*server.Model{m}})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed at Shutdown
	defer hs.Shutdown(context.Background())
	url := "http://" + ln.Addr().String() + "/v1/completions"
	// Prompts of -p words: the token count depends on the vocabulary, so
	// the server's count is reported with the results. Every request's
	// prompt starts with its own number, so that no request reuses another's
	// cached prefix and the levels measure computing every prompt.
	// Tokens that render as nothing (control and unknown tokens) ride
	// with the next token that has text, so a random model that writes a
	// run of them would stream in bursts; they are kept out, since which
	// tokens are written does not change what a step costs. Whichever set
	// is smaller goes in logit_bias: the silent tokens at -100, or, where
	// most of the vocabulary is silent (the synthesized models' tokenizers
	// render text for about 1,800 of their 32k-152k tokens), the others at
	// +100. A bias list of the whole vocabulary would be a few MB of JSON to
	// decode per request and a bias per token of it per sampled token, on
	// the cores the measured server runs on.
	var silent, text []string
	for id := 0; id < m.Tokenizer.Len(); id++ {
		if m.Tokenizer.Decode([]int{id}, false) == "" {
			silent = append(silent, strconv.Itoa(id))
		} else {
			text = append(text, strconv.Itoa(id))
		}
	}
	bias := map[string]float64{}
	if len(silent) <= len(text) {
		for _, id := range silent {
			bias[id] = -100
		}
	} else {
		for _, id := range text {
			bias[id] = 100
		}
	}
	body := func(id int, words int, tail string) []byte {
		text := strings.TrimSpace(strings.Repeat("the quick brown fox jumps over a lazy dog ", words/9+1))
		text = strings.Join(strings.Fields(text)[:words], " ")
		if id >= 0 {
			text = fmt.Sprintf("%d %s", id, text)
		}
		b, _ := json.Marshal(map[string]any{
			"model": m.ID, "prompt": text + tail, "max_tokens": gen, "temperature": hb.temperature, "stream": true,
			"ignore_eos": true, "logprobs": 1, "stream_options": map[string]any{"include_usage": true},
			"logit_bias": bias,
		})
		return b
	}
	// One untimed request first: the first touches of the mapped weights
	// and the first allocations would otherwise land in level 1's TTFT.
	if _, err := streamOnce(ctx, url, body(0, prompt, "")); err != nil {
		return fmt.Errorf("bench: warm-up request: %w", err)
	}
	res := httpResult{Model: path, Threads: threads}
	if hb.prefix > 0 {
		var runs [2]streamStats
		for i, tail := range []string{" and then a cat", " and then a bird"} {
			if runs[i], err = streamOnce(ctx, url, body(-1, hb.prefix, tail)); err != nil {
				return fmt.Errorf("bench: prefix request %d: %w", i+1, err)
			}
		}
		res.Prefix = &prefixRun{
			PromptTokens: runs[1].prompt, WarmCached: runs[1].cached,
			ColdTTFTms: ms(runs[0].ttft), WarmTTFTms: ms(runs[1].ttft),
			Speedup: runs[0].ttft.Seconds() / runs[1].ttft.Seconds(),
		}
	}
	next := 1
	for _, c := range levels {
		lv, err := runLevel(ctx, url, func() []byte { next++; return body(next, prompt, "") }, c, rounds)
		if err != nil {
			return err
		}
		res.Levels = append(res.Levels, lv)
	}
	res.LoadAvg = loadAvg()
	if asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "model %s over HTTP, %d threads, per request a %d-word prompt (%d tokens) and %d generated tokens at temperature %g\n\n",
		path, threads, prompt, res.Levels[0].PromptTokens, gen, hb.temperature)
	if res.LoadAvg > float64(threads) {
		fmt.Fprintf(stdout, "warning: load average %.1f exceeds %d threads: other processes shared the cores\n\n", res.LoadAvg, threads)
	}
	if p := res.Prefix; p != nil {
		fmt.Fprintf(stdout, "shared prefix: two %d-token prompts that differ after %d words: TTFT %.0f ms cold, %.0f ms warm (%d tokens cached): %.1fx\n\n",
			p.PromptTokens, hb.prefix, p.ColdTTFTms, p.WarmTTFTms, p.WarmCached, p.Speedup)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "clients\trequests\ttok/s\tdecode tok/s\tall decoding\tTTFT p50\tTTFT p99\tITL p50\tITL p99\t\n")
	for _, l := range res.Levels {
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.1f\t%.1f\t%.0f ms\t%.0f ms\t%.1f ms\t%.1f ms\t\n",
			l.Clients, l.Requests, l.AggregateTokS, l.DecodeTokS, l.AllDecodingTokS, l.TTFTp50ms, l.TTFTp99ms, l.ITLp50ms, l.ITLp99ms)
	}
	return tw.Flush()
}

// streamStats is what one streamed request measured.
type streamStats struct {
	ttft time.Duration
	gaps []time.Duration
	// arrivals holds when each token arrived, those of the first chunk too.
	arrivals                   []time.Time
	prompt, completion, cached int
}

// runLevel lets clients clients stream rounds requests each, with bodies
// from body (called under a lock).
func runLevel(ctx context.Context, url string, body func() []byte, clients, rounds int) (httpLevel, error) {
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stats := make([][]streamStats, clients)
	errs := make([]error, clients)
	d := runClients(clients, func(i int) {
		for range rounds {
			mu.Lock()
			b := body()
			mu.Unlock()
			s, err := streamOnce(ctx, url, b)
			if err != nil {
				errs[i] = err
				cancel()
				return
			}
			stats[i] = append(stats[i], s)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return httpLevel{}, fmt.Errorf("bench: %d clients: %w", clients, err)
	}
	lv := httpLevel{Clients: clients, Seconds: d.Seconds()}
	var ttft, gaps []time.Duration
	var arrivals [][]time.Time
	for _, ss := range stats {
		for _, s := range ss {
			arrivals = append(arrivals, s.arrivals)
			lv.Requests++
			lv.CompletionTokens += s.completion
			lv.PromptTokens = s.prompt
			ttft = append(ttft, s.ttft)
			gaps = append(gaps, s.gaps...)
		}
	}
	lv.AggregateTokS = float64(lv.CompletionTokens) / d.Seconds()
	var sum time.Duration
	for _, g := range gaps {
		sum += g
	}
	if sum > 0 {
		lv.DecodeTokS = float64(clients) * float64(len(gaps)) / sum.Seconds()
	}
	lv.AllDecodingTokS = allDecodingRate(arrivals, clients)
	lv.TTFTp50ms, lv.TTFTp99ms = percentileMs(ttft, 0.5), percentileMs(ttft, 0.99)
	lv.ITLp50ms, lv.ITLp99ms = percentileMs(gaps, 0.5), percentileMs(gaps, 0.99)
	return lv, nil
}

// runClients runs fn(0..n-1) concurrently and returns the wall time.
func runClients(n int, fn func(i int)) time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
	return time.Since(t0)
}

// allDecodingRate is the rate at which the streams, each given by the
// arrival times of its tokens, delivered tokens while n of them were
// between their first and last token at once. A stream's first tokens come
// when its prompt is done; until the last of n streams arriving together
// has its first, the others' gaps include computing its prompt, which says
// what a prompt costs the streams already decoding, not the rate of n
// streams decoding. Tokens arriving as a window opens are its opening
// stream's first and do not count. Zero if n streams never overlapped.
func allDecodingRate(streams [][]time.Time, n int) float64 {
	type event struct {
		t     time.Time
		delta int
	}
	var events []event
	for _, s := range streams {
		// A stream whose tokens all came at once never decoded.
		if len(s) > 0 && s[len(s)-1].After(s[0]) {
			events = append(events, event{s[0], +1}, event{s[len(s)-1], -1})
		}
	}
	// Ends before starts at the same instant: a stream that ends as another
	// begins does not overlap it.
	slices.SortFunc(events, func(a, b event) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	type window struct{ from, to time.Time }
	var windows []window
	open := 0
	for _, e := range events {
		open += e.delta
		switch {
		case open == n && e.delta > 0:
			windows = append(windows, window{from: e.t})
		case open == n-1 && e.delta < 0:
			windows[len(windows)-1].to = e.t
		}
	}
	var span time.Duration
	for _, w := range windows {
		span += w.to.Sub(w.from)
	}
	if span <= 0 {
		return 0
	}
	tokens := 0
	for _, s := range streams {
		for _, t := range s {
			for _, w := range windows {
				if t.After(w.from) && !t.After(w.to) {
					tokens++
					break
				}
			}
		}
	}
	return float64(tokens) / span.Seconds()
}

// streamOnce posts one streaming completion and times its chunks: the first
// chunk with text gives the time to first token, later ones the gaps.
func streamOnce(ctx context.Context, url string, body []byte) (streamStats, error) {
	var s streamStats
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return s, err
	}
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return s, fmt.Errorf("status %s: %s", resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var last time.Time
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			break
		}
		var chunk struct {
			Choices []struct {
				Text     string `json:"text"`
				Logprobs *struct {
					Tokens []string `json:"tokens"`
				} `json:"logprobs"`
			} `json:"choices"`
			Usage *struct {
				PromptTokens        int `json:"prompt_tokens"`
				CompletionTokens    int `json:"completion_tokens"`
				PromptTokensDetails *struct {
					CachedTokens int `json:"cached_tokens"`
				} `json:"prompt_tokens_details"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return s, fmt.Errorf("stream chunk %q: %w", data, err)
		}
		if chunk.Usage != nil {
			s.prompt, s.completion = chunk.Usage.PromptTokens, chunk.Usage.CompletionTokens
			if d := chunk.Usage.PromptTokensDetails; d != nil {
				s.cached = d.CachedTokens
			}
		}
		if len(chunk.Choices) == 0 {
			continue
		}
		// logprobs lists the chunk's tokens, even those whose text is held
		// back; without it a chunk with text counts as one token.
		k := 0
		if lp := chunk.Choices[0].Logprobs; lp != nil {
			k = len(lp.Tokens)
		} else if chunk.Choices[0].Text != "" {
			k = 1
		}
		if k == 0 {
			continue
		}
		now := time.Now()
		if last.IsZero() {
			// The tokens riding with the first have no gaps to tell.
			s.ttft = now.Sub(t0)
		} else {
			// A chunk of k tokens after gap g: k tokens each g/k apart.
			g := now.Sub(last) / time.Duration(k)
			for range k {
				s.gaps = append(s.gaps, g)
			}
		}
		last = now
		for range k {
			s.arrivals = append(s.arrivals, now)
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("reading stream: %w", err)
	}
	if s.completion == 0 {
		return s, errors.New("stream ended without usage")
	}
	return s, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// percentileMs is the q-quantile (nearest rank) of ds in milliseconds, 0 for none.
func percentileMs(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return ms(s[max(i, 0)])
}
