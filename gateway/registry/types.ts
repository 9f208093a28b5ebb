import { CodedError } from '../util/coded-error.ts'
import type { Scope } from './scope.ts'
import type { UserRegistry } from './users.ts'

// The registry holds devices, their credentials, API tokens and the audit log. SQLite is the
// embedded implementation; a shared one (for several gateway nodes) implements the same interface.
// Every call answers a promise, as a registry across the network must; the SQLite one answers at once.

export const DEVICE_KINDS = ['water_level', 'rain_gauge', 'air_quality', 'camera'] as const
export type DeviceKind = (typeof DEVICE_KINDS)[number]

export const DEVICE_STATES = ['active', 'disabled', 'decommissioned'] as const
export type DeviceState = (typeof DEVICE_STATES)[number]

export const ROLES = ['admin', 'technician', 'officer', 'viewer'] as const
export type Role = (typeof ROLES)[number]

/** docs/api.md "Devices": `[a-z0-9][a-z0-9-]{2,63}`. */
export const DEVICE_ID_PATTERN = '^[a-z0-9][a-z0-9-]{2,63}$'

export interface Location {
  lat: number
  lon: number
}

export interface Device {
  id: string
  kind: DeviceKind
  name: string
  station: string | null
  district: string | null
  location: Location | null
  tags: string[]
  state: DeviceState
  created_at: string
  updated_at: string
}

export interface NewDevice {
  id?: string | undefined
  kind: DeviceKind
  name: string
  station?: string | null | undefined
  district?: string | null | undefined
  location?: Location | null | undefined
  tags?: string[] | undefined
}

export type DevicePatch = Partial<Pick<Device, 'name' | 'station' | 'district' | 'location' | 'tags' | 'state'>>

export interface DeviceFilter {
  kind?: DeviceKind | undefined
  station?: string | undefined
  state?: DeviceState | undefined
  /** Only devices of these districts and stations (a scoped user). */
  scope?: Scope | null | undefined
}

export interface Page<T> {
  items: T[]
  next: string | null
}

export interface ApiToken {
  id: string
  name: string
  role: Role
  created_at: string
  last_used_at: string | null
}

/** Who made a change, for the audit log. */
export interface Actor {
  type: 'token' | 'user' | 'cli' | 'system'
  id: string
  name?: string | undefined
}

export interface AuditEntry {
  id: number
  ts: string
  actor_type: Actor['type']
  actor_id: string
  /** The token's or user's name at the time of the action (null for system actions). */
  actor_name: string | null
  action: string
  target: string
  detail: Record<string, unknown> | null
}

/** A camera's vision configuration as stored; its shape is the vision capability's (docs/vision.md). */
export interface CameraConfigRecord {
  camera: string
  config: Record<string, unknown>
  updated_at: string
}

export type DeviceAuthResult =
  { ok: true; device: Device } | { ok: false; reason: 'unknown_device' | 'bad_secret' | 'device_disabled' | 'device_decommissioned' }

/** Why a device's live sessions must be closed now. */
export interface RevocationEvent {
  deviceId: string
  reason: 'secret_rotated' | 'disabled' | 'decommissioned' | 'removed'
}

export class RegistryError extends CodedError<'not_found' | 'conflict' | 'invalid'> {}

export interface DeviceRegistry {
  createDevice(input: NewDevice, actor: Actor): Promise<{ device: Device; secret: string }>
  getDevice(id: string): Promise<Device | undefined>
  listDevices(filter: DeviceFilter, page: { limit: number; cursor?: string | undefined }): Promise<Page<Device>>
  updateDevice(id: string, patch: DevicePatch, actor: Actor): Promise<Device>
  /** Decommissions the device and deletes its credentials; its readings stay. */
  removeDevice(id: string, actor: Actor): Promise<Device>
  rotateSecret(id: string, actor: Actor): Promise<{ device: Device; secret: string }>
  authenticateDevice(id: string, secret: string): Promise<DeviceAuthResult>

  createToken(input: { role: Role; name: string }, actor: Actor): Promise<{ token: ApiToken; secret: string }>
  listTokens(page: { limit: number; cursor?: string | undefined }): Promise<Page<ApiToken>>
  deleteToken(id: string, actor: Actor): Promise<void>
  /** The token for a bearer secret, or undefined. */
  authenticateToken(secret: string): Promise<ApiToken | undefined>
  /** True when at least one admin token exists (bootstrap check). */
  hasAdminToken(): Promise<boolean>
  /** Makes sure a token with this exact secret exists (bootstrap admin token from configuration). */
  ensureToken(input: { role: Role; name: string; secret: string }, actor: Actor): Promise<ApiToken>

  /** People's accounts and their console sessions (users.ts). */
  readonly users: UserRegistry

  /** Records who did what to which target (the registry's own changes do this themselves). */
  audit(actor: Actor, action: string, target: string, detail: Record<string, unknown> | null): Promise<void>
  listAudit(page: { limit: number; cursor?: string | undefined }): Promise<Page<AuditEntry>>

  getCameraConfig(camera: string): Promise<CameraConfigRecord | undefined>
  listCameraConfigs(): Promise<CameraConfigRecord[]>
  /** Stores (replaces) a camera's configuration, audited as camera.config. */
  setCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): Promise<CameraConfigRecord>
  /** Stores it only when the camera has none yet (seeding from gateway.yaml); true when stored. */
  seedCameraConfig(camera: string, config: Record<string, unknown>, actor: Actor): Promise<boolean>

  /** Called after a change that must close a device's live sessions. Returns an unsubscribe. */
  onRevocation(listener: (ev: RevocationEvent) => void): () => void
  /** Called after an API token is deleted, so that live sessions using it can be closed. */
  onTokenRevocation(listener: (tokenId: string) => void): () => void

  close(): Promise<void>
}
