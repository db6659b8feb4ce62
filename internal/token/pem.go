package token

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePrivatePEM returns the signing key of the one PEM private key in
// data: PKCS #8 ("PRIVATE KEY"), PKCS #1 ("RSA PRIVATE KEY") or SEC 1 ("EC
// PRIVATE KEY"). Its algorithm follows from the key type as in NewKey, and
// its id is the RFC 7638 thumbprint, so that every replica given the same
// key names it alike. Encrypted PEM is refused.
func ParsePrivatePEM(data []byte) (Key, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return Key{}, errors.New("no PEM block found")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return Key{}, errors.New("more than one PEM block: give one private key")
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted {
		return Key{}, errors.New("encrypted PEM is not supported")
	}
	var (
		parsed any
		err    error
	)
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return Key{}, fmt.Errorf("PEM block %q is not a private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return Key{}, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	return signerKey("", parsed)
}

// ParsePublicPEM returns the verification keys of the PEM public keys
// ("PUBLIC KEY", PKIX) in data, in order; data may hold any number of them,
// and nothing else but white space. Their ids are their RFC 7638
// thumbprints, the ids ParsePrivatePEM gives the matching private keys.
func ParsePublicPEM(data []byte) ([]Key, error) {
	var keys []Key
	for n := 1; ; n++ {
		block, rest := pem.Decode(data)
		if block == nil {
			if len(bytes.TrimSpace(data)) > 0 {
				return nil, fmt.Errorf("key %d: not a PEM block", n)
			}
			return keys, nil
		}
		data = rest
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("key %d: PEM block %q is not a PUBLIC KEY", n, block.Type)
		}
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("key %d: parsing PUBLIC KEY: %w", n, err)
		}
		k, err := NewPublicKey("", parsed)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", n, err)
		}
		keys = append(keys, k)
	}
}

// MarshalPublicPEM returns k's public key as a PEM "PUBLIC KEY" block, the
// form ParsePublicPEM reads. HMAC keys have none.
func (k Key) MarshalPublicPEM() ([]byte, error) {
	if k.public == nil {
		return nil, fmt.Errorf("%v has no public key", k)
	}
	der, err := x509.MarshalPKIXPublicKey(k.public)
	if err != nil {
		return nil, fmt.Errorf("marshaling %v: %w", k, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
