// Package password hashes and verifies passwords: argon2id for new hashes,
// and the schemes of the Flask service that Latchkey replaces for imported
// ones.
package password
