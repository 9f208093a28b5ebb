export { createBroker, type BrokerOptions } from './broker.ts'
export { ROLE_READ } from './acl.ts'
export { TOKEN_USERNAME } from './hooks.ts'
export type * from './types.ts'
