package sample

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/kiln-llm/kiln/tensor"
)

const (
	// minTemperature: below it sampling is greedy, as in vLLM (1e-5); it also
	// keeps 1/T finite.
	minTemperature = 1e-5
	// cutoffNats: a token more than this many nats (of logit/T) below the best
	// one has relative weight < 2e-22; even 262k of them weigh < 1e-16 of the
	// total, below float64 resolution, so they are treated as impossible and
	// skip the exponential.
	cutoffNats = 50
	// binsPerNat sets the width of the buckets the filters use instead of
	// sorting the vocabulary (see filter). Narrow buckets give tight mass
	// bounds (a bucket's weights are within 6% of each other) and small sorts.
	binsPerNat = 16
	numBins    = cutoffNats*binsPerNat + 1
	noBin      = tensor.NoBucket
)

// Sampler is one sequence's sampling state: its own random stream (seeded by
// Params.Seed, so the same seed gives the same tokens whatever else runs in
// the batch) and its token counts for the penalties. It is used from one
// goroutine at a time.
//
// Sample applies, in this order (OpenAI semantics, vLLM's where OpenAI is
// silent):
//
//  1. logit_bias is added to the raw logits (so -100 effectively bans a
//     token and +100 effectively forces it, as OpenAI documents);
//  2. repetition_penalty (CTRL, as in llama.cpp and vLLM), once per distinct
//     token of the prompt and the output: a positive logit is divided by it,
//     a negative one multiplied, so the token always becomes less likely;
//  3. presence and frequency penalties over the output tokens only (OpenAI):
//     logit -= presence*[count > 0] + frequency*count;
//  4. tokens the constraint mask disallows are removed;
//  5. temperature below 1e-5 (vLLM's threshold) is greedy over what is left:
//     the largest logit, the lowest id on ties;
//  6. otherwise top_k, then top_p, then min_p, all on the distribution
//     softmax(logit/T) at the request's temperature (vLLM and Hugging Face
//     scale before filtering): top_k keeps the k most probable (lower id
//     first on ties), top_p the shortest most-probable prefix whose mass
//     reaches p of what top_k left (at least one token), min_p the tokens
//     whose probability is at least min_p times the largest;
//  7. one uniform draw from the sequence's PCG stream picks a token in
//     proportion to softmax(logit/T) over what is left. With every filter
//     off this is the softmax distribution with weights exact to float32
//     (relative error about 1e-7; the filters weigh in float64), except
//     that tokens more than 50 nats below the best (weight < 2e-22 each,
//     < 1e-16 together) count as impossible.
//
// A +Inf logit wins outright (uniformly among several). Sample never
// allocates after its first call on a vocabulary size.
type Sampler struct {
	temp       float64
	topK       int
	topP, minP float64
	repPen     float64
	presence   float64
	frequency  float64
	bias       []biasEntry
	vocab      int
	rng        *rand.Rand

	// History, kept only for the penalties that are on: outCount/outIDs for
	// presence and frequency (output), seen/seenIDs for repetition (prompt
	// and output). The id lists let the penalties touch only past tokens.
	outCount []int32
	outIDs   []int32
	seen     []bool
	seenIDs  []int32

	// Buffers reused by every call so Sample does not allocate after the
	// first one.
	buf  []float32
	sums []float64
	bin  []uint16
	cand []candidate
	ids  []int32 // the tokens of cand, in id order, before the counting sort
	cnt  [numBins]int32
	// lastBin is the last bucket the previous call counted a token in, so
	// the next call's clearing stops there (rows use few of the buckets).
	lastBin int32
	start   [numBins + 1]int32
	pos     [numBins]int32
	sorted  [numBins]bool
	// binLo[b] and binHi[b] bound the weight of a token in bucket b, with a
	// margin for rounding.
	binLo, binHi [numBins]float64
}

type biasEntry struct {
	id int
	v  float32
}

// candidate is a token that survived to the filters, with its adjusted logit
// (for ordering) and its weight exp((logit-max)/T) (for drawing).
type candidate struct {
	id int32
	l  float32
	w  float64
}

// New returns the sampler of one sequence over a vocabulary of vocab tokens.
// Parameters out of range mean "off" rather than an error (the server
// validates requests): TopK <= 0, TopP outside (0, 1), MinP <= 0,
// RepetitionPenalty <= 0 or 1, and NaN anywhere. MinP above 1 acts as 1.
// LogitBias entries for ids outside the vocabulary are ignored.
func New(p Params, vocab int) *Sampler {
	vocab = max(vocab, 0)
	s := &Sampler{
		vocab: vocab,
		rng:   rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15)),
	}
	if p.Temperature >= minTemperature {
		s.temp = p.Temperature
	}
	if p.TopK > 0 {
		s.topK = p.TopK
	}
	if p.TopP > 0 && p.TopP < 1 {
		s.topP = p.TopP
	}
	if p.MinP > 0 {
		s.minP = min(p.MinP, 1)
	}
	if p.RepetitionPenalty > 0 && p.RepetitionPenalty != 1 && !math.IsInf(p.RepetitionPenalty, 0) {
		s.repPen = p.RepetitionPenalty
		s.seen = make([]bool, vocab)
	}
	if finiteNonZero(p.PresencePenalty) || finiteNonZero(p.FrequencyPenalty) {
		if finiteNonZero(p.PresencePenalty) {
			s.presence = p.PresencePenalty
		}
		if finiteNonZero(p.FrequencyPenalty) {
			s.frequency = p.FrequencyPenalty
		}
		s.outCount = make([]int32, vocab)
	}
	for id, v := range p.LogitBias {
		if id >= 0 && id < vocab && v != 0 {
			s.bias = append(s.bias, biasEntry{id, v})
		}
	}
	slices.SortFunc(s.bias, func(a, b biasEntry) int { return cmp.Compare(a.id, b.id) })
	if s.topP > 0 && s.topK == 0 {
		for b := range numBins {
			s.binLo[b] = expNeg(-float64(b+1)/binsPerNat) * (1 - 1e-12)
			s.binHi[b] = expNeg(-float64(b)/binsPerNat) * (1 + 1e-12)
		}
	}
	return s
}

func finiteNonZero(v float64) bool {
	return v != 0 && !math.IsNaN(v) && !math.IsInf(v, 0)
}

// Prompt records prompt tokens, which the repetition penalty counts (the
// presence and frequency penalties count only output, as in OpenAI and vLLM).
// Ids outside the vocabulary are ignored.
func (s *Sampler) Prompt(ids []int) {
	if s.seen == nil {
		return
	}
	for _, id := range ids {
		s.markSeen(id)
	}
}

// Accept adds the chosen token to the output history. Ids outside the
// vocabulary are ignored.
func (s *Sampler) Accept(tok int) {
	if tok < 0 || tok >= s.vocab {
		return
	}
	s.markSeen(tok)
	if s.outCount != nil {
		if s.outCount[tok] == 0 {
			s.outIDs = append(s.outIDs, int32(tok))
		}
		s.outCount[tok]++
	}
}

func (s *Sampler) markSeen(id int) {
	if s.seen == nil || id < 0 || id >= s.vocab || s.seen[id] {
		return
	}
	s.seen[id] = true
	s.seenIDs = append(s.seenIDs, int32(id))
}

// Sample returns the next token for logits (which it does not modify).
// allowed restricts the choice when not nil: a token whose entry is false or
// missing is never returned. It returns -1 only when no token is allowed;
// when every allowed token has logit -Inf or NaN, it returns the lowest
// allowed id.
func (s *Sampler) Sample(logits []float32, allowed []bool) int {
	// Only greedy decoding with nothing to adjust reads the logits as they
	// are; everything else works on a copy it may overwrite.
	buf := logits
	if s.temp != 0 || !s.unadjusted(allowed) {
		buf = s.adjust(logits, allowed)
	}
	best, bestV := argmax(buf)
	first := -1
	if best < 0 {
		// Nothing has positive probability: fall back to an allowed token.
		for i := range buf {
			if allowed == nil || (i < len(allowed) && allowed[i]) {
				first = i
				break
			}
		}
		return first
	}
	if s.temp == 0 {
		return best
	}
	if math.IsInf(float64(bestV), 1) {
		// The softmax limit is uniform over the +Inf tokens.
		for i, v := range buf {
			if math.IsInf(float64(v), 1) {
				buf[i] = 0
			} else {
				buf[i] = float32(math.Inf(-1))
			}
		}
		bestV = 0
	}
	u := s.rng.Float64()
	if s.topK == 0 && s.topP == 0 && s.minP == 0 {
		return s.drawAll(buf, float64(bestV), u)
	}
	kept := s.filter(buf, float64(bestV))
	var total float64
	for _, c := range kept {
		total += c.w
	}
	target := u * total
	var cum float64
	for _, c := range kept {
		cum += c.w
		if target < cum {
			return int(c.id)
		}
	}
	return int(kept[0].id) // only by rounding when u*total rounds up to total
}

// argmax returns the first index of the largest of buf, skipping NaNs, and
// that value; -1 when nothing exceeds -Inf. The vector maximum finds the
// value and a vector search its first occurrence; a row with a NaN (Max is
// then NaN) or nothing above -Inf takes the scalar loop.
func argmax(buf []float32) (int, float32) {
	m := tensor.Max(buf)
	if !math.IsNaN(float64(m)) && !math.IsInf(float64(m), -1) {
		return tensor.Index(buf, m), m
	}
	best, bestV := -1, float32(math.Inf(-1))
	for i, v := range buf {
		if v > bestV {
			best, bestV = i, v
		}
	}
	return best, bestV
}

// unadjusted reports that adjust would return an exact copy of the logits:
// no bias, no penalties, no mask.
func (s *Sampler) unadjusted(allowed []bool) bool {
	return allowed == nil && len(s.bias) == 0 && s.repPen == 0 && s.outCount == nil
}

// adjust writes the logits after bias, penalties and mask into the sampler's
// buffer and returns it: disallowed tokens become -Inf (NaN logits stay NaN
// and are never chosen).
func (s *Sampler) adjust(logits []float32, allowed []bool) []float32 {
	if cap(s.buf) < len(logits) {
		s.buf = make([]float32, len(logits))
	}
	buf := s.buf[:len(logits)]
	copy(buf, logits)
	for _, b := range s.bias {
		if b.id < len(buf) {
			buf[b.id] += b.v
		}
	}
	if s.repPen != 0 {
		for _, id := range s.seenIDs {
			if int(id) >= len(buf) {
				continue
			}
			if v := float64(buf[id]); v > 0 {
				buf[id] = float32(v / s.repPen)
			} else {
				buf[id] = float32(v * s.repPen)
			}
		}
	}
	if s.outCount != nil {
		for _, id := range s.outIDs {
			if int(id) >= len(buf) {
				continue
			}
			c := float64(s.outCount[id])
			buf[id] = float32(float64(buf[id]) - (s.presence + s.frequency*c))
		}
	}
	if allowed != nil {
		ninf := float32(math.Inf(-1))
		n := min(len(allowed), len(buf))
		for i, ok := range allowed[:n] {
			if !ok {
				buf[i] = ninf
			}
		}
		for i := n; i < len(buf); i++ {
			buf[i] = ninf
		}
	}
	return buf
}

// drawAll samples from the full softmax(buf/T): u in [0, 1) is matched
// against the cumulative weights in id order. The weights overwrite buf:
// float32 exponentials eight at a time (tensor.ExpWeights), summed in
// float64. At Qwen's 152k vocabulary a float64 exponential per token took
// about 1 ms per sampled token, as long as a tenth of the model step. The
// weights are made a chunk at a time, so the match can skip whole chunks by
// their sums and add up one weight after another only in the chunk the
// target falls in: one chain of dependent float64 additions over the whole
// vocabulary took up to 0.5 ms.
func (s *Sampler) drawAll(buf []float32, maxV, u float64) int {
	nc := (len(buf) + drawChunk - 1) / drawChunk
	if cap(s.sums) < nc {
		s.sums = make([]float64, nc)
	}
	sums := s.sums[:nc]
	var z float64
	for c := range sums {
		chunk := buf[c*drawChunk : min((c+1)*drawChunk, len(buf))]
		sums[c] = tensor.ExpWeights(chunk, float32(maxV), float32(1/s.temp), cutoffNats)
		z += sums[c]
	}
	target := u * z
	var cum float64
	for c, sum := range sums {
		if !(target < cum+sum) {
			cum += sum
			continue
		}
		// The target is in this chunk, unless rounding says otherwise: then
		// the walk goes on from the chunk's sum taken in order.
		lo := c * drawChunk
		for i, e := range buf[lo:min(lo+drawChunk, len(buf))] {
			cum += float64(e)
			if target < cum && e > 0 {
				return lo + i
			}
		}
	}
	for i := len(buf) - 1; i >= 0; i-- { // only by rounding when u*z rounds up to z
		if buf[i] > 0 {
			return i
		}
	}
	return -1
}

// drawChunk is the span drawAll weighs and skips at a time: short enough
// that the walk through the chosen chunk is quick, long enough that the
// calls and sums are few (a multiple of the eight lanes of ExpWeights).
const drawChunk = 512

// filter applies top_k, top_p and min_p to softmax(buf/T) and returns the
// tokens left with their weights, without sorting the vocabulary and, most of
// the time, without exponentiating it:
//
//   - one pass buckets every token by its distance d = (max-logit)/T below
//     the best one (1/16 nat per bucket) and counts the buckets;
//   - the counts locate top_k's cut and min_p's bar; for top_p the bucket
//     bounds e^-(b+1)/16 < w <= e^-b/16 bound the total mass z within ~6%
//     of the tail, which locates the buckets the cut can fall in;
//   - only the tokens of those buckets are gathered (in bucket order, a
//     counting sort) and weighed exactly, and only the bucket a cut falls in
//     is sorted;
//   - top_p's cut is final when every z in the bounds gives the same cut;
//     otherwise the rest of the vocabulary is weighed to get z exactly.
//
// The result is the same as sorting everything and cutting.
func (s *Sampler) filter(buf []float32, maxV float64) []candidate {
	if cap(s.bin) < len(buf) {
		s.bin = make([]uint16, len(buf))
	}
	bins := s.bin[:len(buf)]
	clear(s.cnt[:s.lastBin+1]) // buckets past the previous call's last are still zero
	invT := 1 / s.temp
	// Tokens beyond bar are out of every cut; min_p's bar applies early only
	// when top_p (which needs the whole mass) is off.
	bar := float64(cutoffNats)
	if s.minP > 0 && s.topP == 0 {
		bar = min(bar, -math.Log(s.minP)+1e-9)
	}
	tensor.Buckets(bins, buf, maxV, invT, binsPerNat, bar)
	cnt := &s.cnt
	for _, b := range bins {
		if b != noBin {
			cnt[b]++
		}
	}
	last := 0
	for b := numBins - 1; b >= 0; b-- {
		if cnt[b] > 0 {
			last = b
			break
		}
	}
	s.lastBin = int32(last)

	// hi is the last bucket a cut can reach.
	hi := last
	if s.topK > 0 {
		var c int
		for b := 0; b <= last; b++ {
			c += int(s.cnt[b])
			if c >= s.topK {
				hi = b
				break
			}
		}
	}
	if s.topP > 0 && s.topK == 0 {
		// Stop where even the lower bounds reach p of the largest possible z.
		var zhi float64
		for b := 0; b <= last; b++ {
			zhi += float64(s.cnt[b]) * s.binHi[b]
		}
		target := s.topP * zhi
		var c float64
		for b := 0; b <= last; b++ {
			c += float64(s.cnt[b]) * s.binLo[b]
			if c >= target {
				hi = b
				break
			}
		}
	}
	if s.minP > 0 && !(s.topK > 0 && s.topP > 0) {
		if d := -math.Log(s.minP); d < cutoffNats {
			hi = min(hi, int(d*binsPerNat))
		}
	}

	// Gather and weigh the tokens of buckets 0..hi, in bucket order.
	s.start[0] = 0
	for b := 0; b <= hi; b++ {
		s.start[b+1] = s.start[b] + s.cnt[b]
	}
	n := int(s.start[hi+1])
	if cap(s.cand) < n {
		s.cand = make([]candidate, n, max(n, 1024))
		s.ids = make([]int32, n, max(n, 1024))
	}
	cand := s.cand[:n]
	pos := s.pos[:hi+1]
	copy(pos, s.start[:hi+1])
	ids := s.ids[:tensor.AtMost(s.ids[:n], bins, uint16(hi))]
	for _, i := range ids {
		b := bins[i]
		d := (maxV - float64(buf[i])) * invT
		cand[pos[b]] = candidate{id: i, l: buf[i], w: expNeg(-d)}
		pos[b]++
	}
	clear(s.sorted[:hi+1])

	kept := n
	var zk float64
	if s.topK > 0 {
		// Buckets 0..hi hold at least top_k tokens unless fewer exist, so the
		// top_k are the first ones once the last bucket is in order.
		if s.topK < n {
			s.sortBucket(cand, hi)
			kept = s.topK
		}
		for _, c := range cand[:kept] {
			zk += c.w
		}
	}
	if s.topP > 0 {
		var cut int
		ok := false
		if s.topK > 0 {
			cut, ok = s.nucleus(cand, hi, kept, s.topP*zk, s.topP*zk)
		} else {
			exact, lo, up := s.massBounds(cand, hi, last)
			cut, ok = s.nucleus(cand, hi, kept, s.topP*(exact+lo), s.topP*(exact+up))
			if !ok {
				// Ambiguous within the bounds: weigh the tail exactly.
				var tail float64
				for i, b := range bins {
					if b != noBin && int(b) > hi {
						tail += expNeg(-(maxV - float64(buf[i])) * invT)
					}
				}
				z := exact + tail
				cut, ok = s.nucleus(cand, hi, kept, s.topP*z, s.topP*z)
			}
		}
		if ok {
			kept = cut
		}
	}
	if s.minP > 0 {
		// Weights are relative to the best token's 1, so the bar is minP itself.
		j := 0
		for _, x := range cand[:kept] {
			if x.w >= s.minP {
				cand[j] = x
				j++
			}
		}
		kept = j
	}
	return cand[:kept]
}

// massBounds returns the exact mass of the gathered buckets 0..hi and lower
// and upper bounds on the mass of buckets hi+1..last from their counts.
func (s *Sampler) massBounds(cand []candidate, hi, last int) (exact, lo, up float64) {
	for _, c := range cand[:s.start[hi+1]] {
		exact += c.w
	}
	for b := hi + 1; b <= last; b++ {
		lo += float64(s.cnt[b]) * s.binLo[b]
		up += float64(s.cnt[b]) * s.binHi[b]
	}
	return exact, lo, up
}

// nucleus returns the length of the shortest most-probable prefix of
// cand[:kept] whose mass reaches the target, for every target in [tlo, thi];
// ok is false when targets in that range give different prefixes (or the
// mass never reaches thi but reaches tlo). With tlo == thi it is top_p's cut;
// if rounding keeps the mass below the target, ok is true and the cut is kept.
func (s *Sampler) nucleus(cand []candidate, hi, kept int, tlo, thi float64) (cut int, ok bool) {
	var c float64
	for b := 0; b <= hi && int(s.start[b]) < kept; b++ {
		lo, up := int(s.start[b]), min(int(s.start[b+1]), kept)
		var bm float64
		for _, x := range cand[lo:up] {
			bm += x.w
		}
		if c+bm < tlo {
			c += bm
			continue
		}
		s.sortBucket(cand, b)
		for j := lo; j < up; j++ {
			prev := c
			c += cand[j].w
			if c >= thi {
				return j + 1, prev < tlo
			}
			if c >= tlo {
				return 0, false
			}
		}
	}
	return kept, c < tlo
}

func (s *Sampler) sortBucket(cand []candidate, b int) {
	if !s.sorted[b] {
		slices.SortFunc(cand[s.start[b]:s.start[b+1]], byRank)
		s.sorted[b] = true
	}
}

// byRank orders candidates most probable first, the lower id first on ties.
func byRank(a, b candidate) int {
	if a.l != b.l {
		if a.l > b.l {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.id, b.id)
}
