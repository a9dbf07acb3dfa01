package engine

import (
	"strings"
	"unicode/utf8"
)

// stopFilter sits between the detokenizer and the stream. It holds back the
// longest tail of the text that could still grow into a stop sequence, so a
// client never sees the beginning of a stop sequence that then completes (the
// text after a stop sequence, or the stop sequence itself when it is cut,
// must never be sent). By induction every possible match starts inside the
// held tail, so only that tail is ever searched.
type stopFilter struct {
	stops []string // non-empty stop sequences
	keep  bool     // the matched stop sequence stays in the text
	held  string
}

func newStopFilter(stops []string, keep bool) *stopFilter {
	f := &stopFilter{keep: keep}
	for _, s := range stops {
		// The text is valid UTF-8 (invalid bytes became U+FFFD), so a stop
		// sequence is matched in that form; then every match starts and
		// ends on character boundaries.
		if s != "" {
			f.stops = append(f.stops, strings.ToValidUTF8(s, "\uFFFD"))
		}
	}
	return f
}

// push adds text and returns what may be sent now. When a stop sequence
// completes, stopped is true and out is the final text: everything up to the
// stop sequence (and including it with keep).
func (f *stopFilter) push(text string) (out string, stopped bool) {
	f.held += text
	if len(f.stops) == 0 {
		out, f.held = f.held, ""
		return out, false
	}
	// The match that ends first is the one a character-by-character
	// stream would have seen first; among those, the one starting first.
	bestStart, bestEnd := -1, -1
	for _, s := range f.stops {
		i := strings.Index(f.held, s)
		if i < 0 {
			continue
		}
		if end := i + len(s); bestEnd < 0 || end < bestEnd || (end == bestEnd && i < bestStart) {
			bestStart, bestEnd = i, end
		}
	}
	if bestStart >= 0 {
		if f.keep {
			out = f.held[:bestEnd]
		} else {
			out = f.held[:bestStart]
		}
		f.held = ""
		return out, true
	}
	k := f.partial()
	out, f.held = f.held[:len(f.held)-k], f.held[len(f.held)-k:]
	return out, false
}

// partial returns the length of the longest proper suffix of held that is a
// prefix of some stop sequence and starts on a character boundary (so the
// text released before it is never cut inside a UTF-8 character).
func (f *stopFilter) partial() int {
	best := 0
	for _, s := range f.stops {
		for k := min(len(s)-1, len(f.held)); k > best; k-- {
			if strings.HasSuffix(f.held, s[:k]) && utf8.RuneStart(f.held[len(f.held)-k]) {
				best = k
				break
			}
		}
	}
	return best
}

// flush returns the held text at the end of generation: it can no longer
// become a stop sequence.
func (f *stopFilter) flush() string {
	out := f.held
	f.held = ""
	return out
}
