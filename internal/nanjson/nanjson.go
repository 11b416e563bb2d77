// Package nanjson has a float64 that JSON can carry when it is NaN or ±Inf
// (scores without reference returns): encoded as null, null decoded as NaN.
package nanjson

import (
	"encoding/json"
	"math"
)

// Float is a float64 that JSON-encodes NaN and ±Inf as null and decodes
// null as NaN.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}
