// Owns: who may call what. Tokens with scopes (inference, management, metrics), compared in constant time and
// never logged; the auth section of tiffin.yaml; minting tokens. Knows nothing about: HTTP, gRPC or routes.
export { SCOPES, TokenSet, mintToken, isScope, type AuthDecision, type Scope, type TokenEntry } from './tokens.ts';
export { authSectionSchema, resolveAuth, type AuthConfig, type AuthSection } from './config.ts';
