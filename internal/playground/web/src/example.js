// The document the playground opens with: one operation per step of a first
// session. Put the cursor in an operation and press Ctrl-Enter (or pick it
// from the run button) to run it.
export const exampleDocument = `# Welcome to Latchkey.
#
# To run an operation, put the cursor in it and press
# Ctrl-Enter (Cmd-Enter on a Mac), or pick it from the
# run button. The email and password are in Variables.
#
# After Register or Login, later requests carry
#   Authorization: Bearer <accessToken>
# by themselves (a header set in the Headers pane wins),
# and RefreshToken sends the last refreshToken unless
# its variable is set. RefreshToken swaps in the new
# tokens; Logout forgets them, as does "Forget it" below
# the response. A reload forgets them too.

mutation Register($email: String!, $password: String!) {
  register(input: {email: $email, password: $password, displayName: "Ada"}) {
    accessToken
    refreshToken
    expiresAt
    user { id email roles }
  }
}

mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    accessToken
    refreshToken
    expiresAt
    user { id email }
  }
}

query Me {
  me { id email displayName roles createdAt lastLoginAt }
  sessions { id createdAt lastUsedAt userAgent current }
}

mutation RefreshToken($refreshToken: String!) {
  refreshToken(input: {refreshToken: $refreshToken}) {
    accessToken
    refreshToken
    expiresAt
  }
}

mutation Logout {
  logout
}
`;

export const exampleVariables = `{
  "email": "ada@example.com",
  "password": "correct horse battery staple"
}
`;
