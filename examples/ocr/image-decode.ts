// Decoding base64 PNG/JPEG text into RGB pixels, for the JSON forms of the APIs. A string that is not an image
// is the caller's mistake: a 400 naming the field, never a 500.
import sharp from 'sharp';
import { TiffinError } from '../../src/index.ts';
import type { RgbImage } from './detection-input.ts';

const MAX_PIXELS = 40_000_000;

export async function decodeBase64Image(text: string, path: (string | number)[]): Promise<{ image: RgbImage; bytes: Buffer }> {
  const bytes = Buffer.from(text.replace(/^data:[^,]*,/, ''), 'base64');
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_PIXELS, failOn: 'error' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { image: { width: info.width, height: info.height, data }, bytes };
  } catch (err) {
    const message = `not a base64 PNG or JPEG image: ${err instanceof Error ? err.message : String(err)}`;
    throw new TiffinError('VALIDATION_FAILED', `the request body is invalid: ${path.join('.')}: ${message}`, { details: { issues: [{ path, message }] } });
  }
}

/** A crop as base64 PNG, the recognition API's input. Fast compression: it crosses a loopback socket, not the internet. */
export async function encodeBase64Png(image: RgbImage): Promise<string> {
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
  return png.toString('base64');
}
