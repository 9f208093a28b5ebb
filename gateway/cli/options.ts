import { Option } from 'commander'
import { ROLES } from '../registry/types.ts'

// Options that several commands take, worded once.

/** `--role`, required: what a token or a user may do. */
export const roleOption = (): Option =>
  new Option('--role <role>', 'admin, technician (devices), officer (alerts), viewer (read)').choices(ROLES).makeOptionMandatory()

/** Collects a repeatable option (`--tag a --tag b`) into a list. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v]
