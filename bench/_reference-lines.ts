// What a hand-rolled reference does with one telemetry message (JSON to line protocol, nothing
// checked) and how it writes. Shared by the mosquitto subscriber and the aedes floor.
export function referenceLines(topic: string, payload: Buffer, emit: (line: string, ts: number) => void): void {
  const device = topic.split('/')[1]!
  let doc: unknown
  try {
    doc = JSON.parse(payload.toString())
  } catch {
    return
  }
  for (const r of Array.isArray(doc) ? doc : [doc]) {
    const { ts, seq, values } = r as { ts: number; seq: number; values: Record<string, number> }
    const fields = Object.entries(values)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')
    emit(`readings,device=${device},kind=water_level ${fields},seq=${seq}i ${ts}`, ts)
  }
}

/** When InfluxDB last accepted a write of this process (epoch ms; 0 before the first). */
export let lastAccepted = 0

/** A reference's write: POST the body to InfluxDB until it is accepted (retrying every 100 ms). */
export async function postUntilAccepted(influx: string, db: string, body: string): Promise<void> {
  for (;;) {
    const res = await fetch(`${influx}/write?db=${db}&precision=ms`, { method: 'POST', body })
    if (res.ok) {
      lastAccepted = Date.now()
      return
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}
