/** Records the sources build/ was just made from (`npm run build`). */
export function writeBuildStamp(root?: string): void
/** True when build/ was made from exactly the sources now under `root` (the package's by default). */
export function buildIsCurrent(root?: string): boolean
