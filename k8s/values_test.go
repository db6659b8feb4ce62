package k8s

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"testing"
)

// The two values of the Kubernetes API with a JSON form of their own that
// the manifests use; apigen maps k8s.io/apimachinery's types to these.

// Quantity is a resource quantity as the API reads it: "500m", "256Mi",
// "1.5G", "1e3".
type Quantity struct {
	text  string
	value *big.Rat
}

// quantity is the API's grammar: a signed decimal number, then a binary or
// decimal SI suffix or a decimal exponent.
var quantity = regexp.MustCompile(`^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$`)

var suffixes = map[string]*big.Rat{
	"": big.NewRat(1, 1), "m": big.NewRat(1, 1000),
	"k": pow(10, 3), "M": pow(10, 6), "G": pow(10, 9), "T": pow(10, 12), "P": pow(10, 15), "E": pow(10, 18),
	"Ki": pow(2, 10), "Mi": pow(2, 20), "Gi": pow(2, 30), "Ti": pow(2, 40), "Pi": pow(2, 50), "Ei": pow(2, 60),
}

func pow(base, exp int64) *big.Rat {
	return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil))
}

// ParseQuantity reads s as the API does.
func ParseQuantity(s string) (Quantity, error) {
	m := quantity.FindStringSubmatch(s)
	if m == nil {
		return Quantity{}, fmt.Errorf("quantity %q: not a number with an SI suffix or an exponent", s)
	}
	v, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return Quantity{}, fmt.Errorf("quantity %q: bad number", s)
	}
	mult, ok := suffixes[m[2]]
	if !ok { // an exponent
		exp, err := strconv.ParseInt(m[2][1:], 10, 32)
		if err != nil || exp < -18 || exp > 18 {
			return Quantity{}, fmt.Errorf("quantity %q: exponent out of range", s)
		}
		mult = pow(10, exp)
		if exp < 0 {
			mult = new(big.Rat).Inv(pow(10, -exp))
		}
	}
	return Quantity{text: s, value: v.Mul(v, mult)}, nil
}

func (q *Quantity) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	p, err := ParseQuantity(s)
	if err != nil {
		return err
	}
	*q = p
	return nil
}

func (q Quantity) rat() *big.Rat {
	if q.value == nil {
		return new(big.Rat)
	}
	return q.value
}

// Value is q in whole units, rounded up, as the API's Value is.
func (q Quantity) Value() int64 {
	r := q.rat()
	v := new(big.Int).Quo(r.Num(), r.Denom())
	if r.Sign() > 0 && !r.IsInt() {
		v.Add(v, big.NewInt(1))
	}
	return v.Int64()
}

func (q Quantity) IsZero() bool           { return q.rat().Sign() == 0 }
func (q Quantity) Cmp(other Quantity) int { return q.rat().Cmp(other.rat()) }
func (q Quantity) String() string         { return q.text }

// IntOrString is a port, a surge or a disruption budget: a number or a
// name (or a percentage).
type IntOrString struct {
	IsString bool
	IntVal   int32
	StrVal   string
}

// FromString is a named port.
func FromString(s string) IntOrString { return IntOrString{IsString: true, StrVal: s} }

func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		v.IsString = true
		return json.Unmarshal(b, &v.StrVal)
	}
	return json.Unmarshal(b, &v.IntVal)
}

// IntValue is the number, or the string read as one (0 if it is none), as
// the API's IntValue is.
func (v IntOrString) IntValue() int {
	if v.IsString {
		n, _ := strconv.Atoi(v.StrVal)
		return n
	}
	return int(v.IntVal)
}

func (v IntOrString) String() string {
	if v.IsString {
		return v.StrVal
	}
	return strconv.Itoa(int(v.IntVal))
}

// TestQuantity checks the parser against values the API documents.
func TestQuantity(t *testing.T) {
	for s, want := range map[string]int64{
		"256Mi": 256 << 20, "500m": 1, "1": 1, "1.5G": 1_500_000_000, "1e3": 1000, "1E-3": 1,
		"2k": 2000, ".5Ki": 512, "5.": 5, "0": 0, "+3": 3, "1Ei": 1 << 60,
	} {
		q, err := ParseQuantity(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if got := q.Value(); got != want {
			t.Errorf("%s: Value() = %d, want %d", s, got, want)
		}
	}
	for _, s := range []string{"", "Mi", "1 Mi", "1mi", "1KiB", "1.2.3", "0x10", "1e"} {
		if _, err := ParseQuantity(s); err == nil {
			t.Errorf("%q parsed; the API refuses it", s)
		}
	}
	half, _ := ParseQuantity("500m")
	one, _ := ParseQuantity("1")
	if half.Cmp(one) >= 0 || one.Cmp(half) <= 0 || half.IsZero() || !(Quantity{}).IsZero() {
		t.Error("500m compares wrong with 1")
	}
	var v struct{ Q Quantity }
	if err := json.Unmarshal([]byte(`{"Q": 2}`), &v); err != nil || v.Q.Value() != 2 {
		t.Errorf("a JSON number: %v, %v", v.Q, err)
	}
	if err := json.Unmarshal([]byte(`{"Q": "2x"}`), &v); err == nil {
		t.Error(`"2x" decoded`)
	}
}
