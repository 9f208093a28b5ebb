// The export worker's entry: a worker thread does not inherit the module hooks that let the main
// thread run the TypeScript sources (gateway/cli/iocgw.js), so it registers tsx itself.
import { register } from 'tsx/esm/api'

register()
await import('./worker.ts')
