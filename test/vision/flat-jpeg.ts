// A valid baseline JPEG (ITU-T T.81) of any size, mid-grey, built byte by byte: one component,
// Huffman tables with a single 1-bit code each (DC difference 0, end of block), so every 8x8 block
// is two zero bits. A 16383x16383 frame is 1 MiB of zeros after the headers: the shape of a
// decompression bomb (small on the wire, ~268 MP to decode) without the gigabyte an encoder
// needs to make one.

function segment(marker: number, body: number[]): Buffer {
  return Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body])
}

export function flatJpeg(width: number, height: number): Buffer {
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8)
  const huffman = (tableClass: number) => [(tableClass << 4) | 0, 1, ...new Array<number>(15).fill(0), 0]
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xdb, [0, ...new Array<number>(64).fill(1)]), // DQT: table 0, all ones
    segment(0xc0, [8, height >> 8, height & 255, width >> 8, width & 255, 1, 1, 0x11, 0]), // SOF0: 1 component
    segment(0xc4, huffman(0)), // DHT: DC table 0, one code of length 1 for category 0
    segment(0xc4, huffman(1)), // DHT: AC table 0, one code of length 1 for EOB (0x00)
    segment(0xda, [1, 1, 0x00, 0, 63, 0]), // SOS: component 1 uses DC 0 / AC 0, Ss 0, Se 63
    // Two bits per block, padded to a whole byte with ones (T.81 F.1.2.3).
    Buffer.alloc(Math.floor((blocks * 2) / 8), 0),
    ...((blocks * 2) % 8 ? [Buffer.from([0xff >> ((blocks * 2) % 8)])] : []),
    Buffer.from([0xff, 0xd9]),
  ])
}
