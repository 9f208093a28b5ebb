import { createLogger } from '../gateway/log/logger.ts'
import { startEdgeAgent } from './agent.ts'
import { startCameraFromEdgeConfig } from './camera/index.ts'
import { loadEdgeRunConfig } from './config.ts'

/** What runEdge started: a sampling agent or a camera agent; both stop the same way. */
export interface RunningAgent {
  stop(): Promise<void>
}

/**
 * `iocgw edge --config FILE`: runs the agent until SIGTERM/SIGINT. A bad config prints one line
 * and exits with status 2.
 */
export async function runEdge(configFile: string, opts: { logLevel?: string } = {}): Promise<RunningAgent> {
  const logger = createLogger(opts.logLevel ?? process.env.IOC_LOG_LEVEL ?? 'info')
  let agent: RunningAgent
  try {
    const loaded = await loadEdgeRunConfig(configFile)
    agent =
      loaded.kind === 'camera' ? await startCameraFromEdgeConfig(loaded.base, logger) : await startEdgeAgent(loaded.config, { logger })
  } catch (err) {
    process.stderr.write(`iocgw edge: ${(err as Error).message}\n`)
    process.exit(2)
  }
  const stop = async () => {
    await agent.stop()
    logger.flush?.()
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())
  return agent
}

// Run directly: `node --import tsx edge/main.ts --config FILE` (tests spawn it this way).
if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--config')
  const file = i >= 0 ? process.argv[i + 1] : undefined
  if (!file) {
    process.stderr.write('usage: iocgw edge --config FILE\n')
    process.exit(2)
  }
  await runEdge(file)
}
