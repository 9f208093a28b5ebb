#!/usr/bin/env -S node --max-semi-space-size=64
// The package's bin: registers tsx so the TypeScript sources run without a build step.
// --max-semi-space-size: under load most objects live as long as a store round trip; a 64 MiB
// young generation lets them die there instead of being copied into the old one (docs/operations.md).
import { register } from 'tsx/esm/api'

register()
await import('./main.ts')
