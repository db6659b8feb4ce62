// Package keys holds Latchkey's signing keys: it loads them from where the
// configuration says (a shared secret, a PEM key in the environment or a
// file, or the database), keeps the token issuer's keys current on every
// replica, and manages the keys held in the database: sealing them with the
// key-encryption key, introducing the next one ahead, rotating and retiring
// them at the times that keep verifiers working.
package keys
