/**
 * A PUBLIC demo ECDSA P-521 private key, committed on purpose: the emulator's demo credentials
 * (`refundhub emulate`, `npm start`, tests) sign and verify Gr4vy JWTs with it. It is not, and
 * must never become, a key registered with any real Gr4vy instance.
 */
export const DEMO_GR4VY_PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIADOoh0aoTusxKGR83
WzLXgR62h0Bmt13XkKo+54Wsq/eH64Zj6gavXUwhfmaaekvHCV57oZmLYgF6QHjs
kKOcASGhgYkDgYYABAEsszvrSEI5bxEx9epkrLHdPkGKSA2vBK3ykhNcNdGh/r8G
lBVr+vZs2Lpw2U4VmuhsyL0u+a/OoOqfxwO52H7wXwG99yk5sIQuaTYJXpzVV5KS
lP5QB4vz4TQx4UwkBptnY7gcOmg0iwOXkc5HkcIqZo510Oivyo5VnBql18qMjuRw
kg==
-----END PRIVATE KEY-----
`;

/** The instance id the demo settings use (base URL `https://api.sandbox.demo.gr4vy.app`, overridden by the emulator's). */
export const DEMO_GR4VY_INSTANCE_ID = 'demo';

/** The demo webhook secret the emulator signs notifications with. */
export const DEMO_GR4VY_WEBHOOK_SECRET = 'demo-gr4vy-webhook-secret';
