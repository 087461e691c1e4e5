package main

import (
	"math"
	"testing"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"empty", nil, 50, math.NaN()},
		{"one", []float64{7}, 99, 7},
		{"odd median", []float64{3, 1, 2}, 50, 2},
		{"even median", []float64{4, 1, 3, 2}, 50, 2.5},
		{"min", []float64{5, 1, 9}, 0, 1},
		{"max", []float64{5, 1, 9}, 100, 9},
		{"interpolated", []float64{0, 10}, 99, 9.9},
		{"p99 of 101", seq(101), 99, 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := percentile(tt.xs, tt.p)
			if !sameFloat(got, tt.want) {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.xs, tt.p, got, tt.want)
			}
		})
	}
}

func TestPercentileLeavesInputAlone(t *testing.T) {
	xs := []float64{3, 1, 2}
	median(xs)
	if xs[0] != 3 || xs[1] != 1 || xs[2] != 2 {
		t.Errorf("median sorted its input: %v", xs)
	}
}

func TestRatioAndMax(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"ratio", ratio(1, 4), 0.25},
		{"ratio by zero", ratio(1, 0), math.NaN()},
		{"ratio of missing", ratio(math.NaN(), 2), math.NaN()},
		{"max", maxOf([]float64{2, 9, 4}), 9},
		{"max of none", maxOf(nil), math.NaN()},
	}
	for _, tt := range tests {
		if !sameFloat(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func seq(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i)
	}
	return xs
}

func sameFloat(a, b float64) bool {
	return (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) < 1e-9
}
