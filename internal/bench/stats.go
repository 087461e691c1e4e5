package main

import (
	"math"
	"slices"
)

// median is the middle value of xs (the mean of the two middle values
// when there are evenly many); NaN for none.
func median(xs []float64) float64 { return percentile(xs, 50) }

// percentile is the p-th percentile of xs, interpolated linearly between
// the closest ranks; NaN for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (rank-float64(lo))*(s[lo+1]-s[lo])
}

// ratio is a / b, NaN when either is missing or b is zero.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

// maxOf is the largest of xs; NaN for none.
func maxOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Max(xs)
}
