// The InfluxDB write thread's entry: a worker thread does not inherit the module hooks that let the
// main thread run the TypeScript sources (gateway/cli/iocgw.js), so it registers tsx itself. The
// build compiles post-thread.ts to post-thread.js in its place.
import { register } from 'tsx/esm/api'

register()
await import('./post-thread.ts')
