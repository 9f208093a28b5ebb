import type { EventEmitter } from 'node:events'
import type {
  Actor,
  ApiToken,
  AuditEntry,
  CameraConfigRecord,
  Device,
  DeviceAuthResult,
  DeviceFilter,
  DevicePatch,
  DeviceRegistry,
  NewDevice,
  Page,
  RevocationEvent,
  Role,
} from './types.ts'
import type { UserRegistry } from './users.ts'

/** A registry method as a part has it: answering at once (SQLite) or later (PostgreSQL). */
type Either<F> = F extends (...args: infer A) => Promise<infer R> ? (...args: A) => R | Promise<R> : never
type Part<K extends keyof DeviceRegistry> = { [P in K]: Either<DeviceRegistry[P]> }

export type DevicePart = Part<
  'createDevice' | 'getDevice' | 'listDevices' | 'updateDevice' | 'removeDevice' | 'rotateSecret' | 'authenticateDevice'
>
export type TokenPart = Part<'createToken' | 'listTokens' | 'deleteToken' | 'authenticateToken' | 'hasAdminToken' | 'ensureToken'>
export type CameraConfigPart = Part<'getCameraConfig' | 'listCameraConfigs' | 'setCameraConfig' | 'seedCameraConfig'>
export type RevocationEvents = EventEmitter<{ revoked: [RevocationEvent]; tokenRevoked: [string] }>

/**
 * What the SQLite registry (sqlite.ts) and the PostgreSQL one (postgres/index.ts) share: each is
 * made of parts (devices, API tokens, camera configurations) it hands the calls to, and tells of
 * revocations on `events`. The audit log, opening and closing are each store's own.
 */
export abstract class ComposedRegistry implements DeviceRegistry {
  protected abstract readonly devices: DevicePart
  protected abstract readonly tokens: TokenPart
  protected abstract readonly cameras: CameraConfigPart
  protected abstract readonly events: RevocationEvents
  abstract readonly users: UserRegistry

  abstract audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): Promise<void>
  abstract listAudit(page: { limit: number; cursor?: string | undefined }): Promise<Page<AuditEntry>>
  abstract close(): Promise<void>

  // --- devices ---------------------------------------------------------------------------------

  async createDevice(input: NewDevice, actor: Actor): Promise<{ device: Device; secret: string }> {
    return this.devices.createDevice(input, actor)
  }

  async getDevice(id: string): Promise<Device | undefined> {
    return this.devices.getDevice(id)
  }

  async listDevices(filter: DeviceFilter, page: { limit: number; cursor?: string | undefined }): Promise<Page<Device>> {
    return this.devices.listDevices(filter, page)
  }

  async updateDevice(id: string, patch: DevicePatch, actor: Actor): Promise<Device> {
    return this.devices.updateDevice(id, patch, actor)
  }

  async removeDevice(id: string, actor: Actor): Promise<Device> {
    return this.devices.removeDevice(id, actor)
  }

  async rotateSecret(id: string, actor: Actor): Promise<{ device: Device; secret: string }> {
    return this.devices.rotateSecret(id, actor)
  }

  async authenticateDevice(id: string, secret: string): Promise<DeviceAuthResult> {
    return this.devices.authenticateDevice(id, secret)
  }

  // --- API tokens ------------------------------------------------------------------------------

  async createToken(input: { role: Role; name: string }, actor: Actor): Promise<{ token: ApiToken; secret: string }> {
    return this.tokens.createToken(input, actor)
  }

  async listTokens(page: { limit: number; cursor?: string | undefined }): Promise<Page<ApiToken>> {
    return this.tokens.listTokens(page)
  }

  async deleteToken(id: string, actor: Actor): Promise<void> {
    return this.tokens.deleteToken(id, actor)
  }

  async authenticateToken(secret: string): Promise<ApiToken | undefined> {
    return this.tokens.authenticateToken(secret)
  }

  async hasAdminToken(): Promise<boolean> {
    return this.tokens.hasAdminToken()
  }

  async ensureToken(input: { role: Role; name: string; secret: string }, actor: Actor): Promise<ApiToken> {
    return this.tokens.ensureToken(input, actor)
  }

  // --- camera configuration ---------------------------------------------------------------------

  async getCameraConfig(camera: string): Promise<CameraConfigRecord | undefined> {
    return this.cameras.getCameraConfig(camera)
  }

  async listCameraConfigs(): Promise<CameraConfigRecord[]> {
    return this.cameras.listCameraConfigs()
  }

  async setCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): Promise<CameraConfigRecord> {
    return this.cameras.setCameraConfig(camera, config, actor)
  }

  async seedCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): Promise<boolean> {
    return this.cameras.seedCameraConfig(camera, config, actor)
  }

  // --- revocations -----------------------------------------------------------------------------

  onRevocation(listener: (ev: RevocationEvent) => void): () => void {
    this.events.on('revoked', listener)
    return () => this.events.off('revoked', listener)
  }

  onTokenRevocation(listener: (tokenId: string) => void): () => void {
    this.events.on('tokenRevoked', listener)
    return () => this.events.off('tokenRevoked', listener)
  }
}
