package serialsim

import (
	"math/rand/v2"
	"strconv"
)

// alphabetBurst is the number of sentences in each cycle of the alphabet
// feed.
const alphabetBurst = 10

// alphabetCycler is the alphabet:K feed, a stress test for content
// identity: each cycle is a burst of alphabetBurst sentences, each chosen
// among K fixed ones ("$PFDAL,<k>,<word>*hh", the words seeded): with
// probability 1/2 the previous sentence again, otherwise any of the K. So
// repeats are the rule and runs of identical frames are common; with K=1
// every frame is the same.
type alphabetCycler struct {
	rng      *rand.Rand
	alphabet [][]byte
	prev     int
}

func newAlphabetCycler(c Config, k int) *alphabetCycler {
	rng := feedRand(c, 0x616c7068_61626574)
	a := &alphabetCycler{rng: rng}
	for i := range k {
		word := make([]byte, 3+rng.IntN(18))
		for j := range word {
			word[j] = 'A' + byte(rng.IntN(26))
		}
		a.alphabet = append(a.alphabet, sentence('$', "PFDAL", strconv.Itoa(i), string(word)))
	}
	a.prev = rng.IntN(k)
	return a
}

func (a *alphabetCycler) cycle(_ uint64, dst [][]byte) [][]byte {
	for range alphabetBurst {
		if a.rng.IntN(2) == 0 {
			a.prev = a.rng.IntN(len(a.alphabet))
		}
		dst = append(dst, a.alphabet[a.prev])
	}
	return dst
}
