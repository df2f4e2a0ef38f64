package spec

import "fmt"

// Going back to the version in the other slot (`mkimage update --rollback`):
// GET RollbackPath answers a RollbackChallenge; a POST of a RollbackRequest
// whose signature over RollbackMessage verifies with a trusted update key
// arms a trial boot of the other slot, answered with an UpdateResult.
const RollbackPath = UpdatePath + "/rollback"

// RollbackChallenge is a single-use nonce and what it would roll back.
type RollbackChallenge struct {
	Nonce    string `json:"nonce"` // hex
	Board    string `json:"board"`
	Version  string `json:"version"`  // running
	Previous string `json:"previous"` // what the other slot holds ("": nothing to go back to)
}

// RollbackRequest answers a challenge.
type RollbackRequest struct {
	Nonce     string `json:"nonce"`
	Signature string `json:"signature"` // base64 (standard) ed25519 signature of RollbackMessage
}

// RollbackMessage is what the key signs: the challenge with the board and
// both versions, so a signature cannot be used on another machine or
// another state.
func RollbackMessage(c RollbackChallenge) []byte {
	return fmt.Appendf(nil, "mkimage rollback v1\nboard %s\nfrom %s\nto %s\nnonce %s\n", c.Board, c.Version, c.Previous, c.Nonce)
}
