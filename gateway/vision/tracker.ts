import { intersection, sameObject, type Detection } from './nms.ts'
import { holds } from './tiles.ts'
import type { Region } from './yolox.ts'

// The objects of a frame analysed only where it moved (tiles.ts motionRegions): what the detector
// found in those passes, plus the objects of the last analysis that lie where nothing moved and
// no crop looked again: a parked car keeps being counted without being detected on every frame
// (Frigate's stationary objects). A full analysis (the first frame, a configuration change, and
// at least every `vision.motion.maxSkipMs`) replaces them all.

/** What a partial analysis ran: its passes (null = the whole frame) and the boxes that moved. */
export interface PartialScope {
  analysed: Array<Region | null>
  moving: Region[]
}

/**
 * `previous`: the objects of the camera's last analysis; `fresh`: this one's detections. Only
 * motion changes the scene: a fresh detection counts where it overlaps a moving box (a vehicle
 * that arrived or moved). A previous object is dropped where it overlaps a moving box and a pass
 * of this analysis held it whole (it left, or the detector has just looked at it again; one cut
 * by the pass's edge could not be found again, and stays), or where a counted fresh detection
 * covers it as the cross-tile merge would (IoU over `iou`, or over `ios` of the smaller box). A
 * pass's second look at a parked car away from the motion neither loses it nor counts it twice.
 */
export function carryObjects(
  previous: readonly Detection[],
  fresh: readonly Detection[],
  scope: PartialScope,
  iou: number,
  ios: number,
): Detection[] {
  const moving = scope.moving.map((m) => [m.x, m.y, m.x + m.w, m.y + m.h])
  const moved = (b: Detection['box']) => moving.some((m) => intersection(b, m) > 0)
  const seenWhole = (b: Detection['box']) => scope.analysed.some((r) => r !== null && holds(r, b))
  const out = fresh.filter((d) => moved(d.box))
  const covered = (b: Detection['box']) => out.some((d) => sameObject(b, d.box, iou, ios))
  for (const o of previous) if (!(moved(o.box) && seenWhole(o.box)) && !covered(o.box)) out.push(o)
  return out
}
