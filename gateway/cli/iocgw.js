#!/usr/bin/env -S node --max-semi-space-size=64
// The package's bin. It runs the compiled build (build/, made by `npm run build` and by `npm ci`)
// while that was made from exactly the sources on disk (build-check.js), else the TypeScript
// sources through tsx: the build starts faster and holds some 40 MB less at rest (no TypeScript
// loader thread), and an edited checkout still runs what it says.
// --max-semi-space-size: under load most objects live as long as a store round trip; a 64 MiB
// young generation lets them die there instead of being copied into the old one (docs/operations.md).
import { buildIsCurrent } from './build-check.js'

if (buildIsCurrent()) {
  await import('../../build/gateway/cli/main.js')
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('./main.ts')
}
