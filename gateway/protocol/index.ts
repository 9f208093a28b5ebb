export * from './topics.ts'
export * from './metrics.ts'
export * from './units.ts'
export * from './schemas.ts'
