/**
 * The stable rejection codes of X.509-SVID verification, in the order the checks run
 * (docs/identity.md "Rejection codes" lists the same table; test/identity/verify.test.ts keeps
 * the two in step). A code never changes meaning; new checks get new codes.
 */
export const REJECTIONS = {
  // 1. The presented chain.
  CHAIN_EMPTY: 'no certificate was presented',
  KEY_MISMATCH: 'the private key does not belong to the leaf certificate',
  // 2. Path validation (what OpenSSL also checks during the TLS handshake).
  NOT_YET_VALID: 'a certificate of the chain (or its root) is not valid yet at the verification time',
  EXPIRED: 'a certificate of the chain (or its root) has expired at the verification time',
  CHAIN_BROKEN: 'a certificate is not issued by the next one in the presented chain (names or key identifiers differ)',
  BAD_SIGNATURE: 'a certificate signature does not verify with its issuer key',
  SIGNER_NOT_CA: 'an intermediate or root that signs does not have basicConstraints cA=true',
  SIGNER_NO_KEY_CERT_SIGN: 'an intermediate or root that signs has a KeyUsage without keyCertSign',
  PATH_LENGTH_EXCEEDED: 'a signing certificate pathLenConstraint is exceeded',
  NAME_CONSTRAINTS_UNSUPPORTED: 'a certificate carries name constraints, which Tendril does not evaluate and therefore refuses',
  SIGNER_ID_HAS_PATH: 'a signing certificate carries a SPIFFE ID with a path',
  UNTRUSTED_CHAIN: 'the chain does not end in a root of any loaded bundle',
  // 3. The leaf (X509-SVID rules).
  NO_URI_SAN: 'the leaf has no URI subject alternative name, so no SPIFFE ID',
  MULTIPLE_URI_SANS: 'the leaf has more than one URI subject alternative name',
  BAD_SAN: 'the leaf subjectAltName extension cannot be read',
  INVALID_SPIFFE_ID: 'the leaf URI SAN is not a valid SPIFFE ID',
  ID_HAS_NO_PATH: 'the leaf SPIFFE ID is a trust-domain ID (no path): not a workload identity',
  LEAF_IS_CA: 'the leaf has basicConstraints cA=true',
  LEAF_KEY_CERT_SIGN: 'the leaf KeyUsage has keyCertSign',
  LEAF_CRL_SIGN: 'the leaf KeyUsage has cRLSign',
  NO_KEY_USAGE: 'the leaf has no KeyUsage extension',
  KEY_USAGE_NOT_CRITICAL: 'the leaf KeyUsage extension is not marked critical',
  NO_DIGITAL_SIGNATURE: 'the leaf KeyUsage lacks digitalSignature',
  EKU_WRONG_ROLE: 'the leaf ExtendedKeyUsage lacks the purpose of the role it was presented in (clientAuth or serverAuth)',
  EKU_INCOMPLETE: 'the leaf ExtendedKeyUsage has one of serverAuth/clientAuth but not both',
  // 4. The anchor of the leaf's own trust domain.
  UNKNOWN_TRUST_DOMAIN: 'no bundle is loaded for the trust domain of the leaf SPIFFE ID',
  WRONG_TRUST_DOMAIN: "the chain ends in a root that is not in the bundle of the leaf's trust domain",
  // 5. Authorisation.
  ID_MISMATCH: 'the verified SPIFFE ID is not the one expected',
} as const;

export type RejectionCode = keyof typeof REJECTIONS;
