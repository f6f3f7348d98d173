// Images as API inputs and outputs, decoded and encoded with sharp (libvips). Handlers get raw
// interleaved 8-bit pixels plus the original bytes; sharp loads only when an image API is first used.
import { TiffinError, messageOf } from '../errors/index.ts';
import { fileFromPayload, MULTIPART_MEDIA_TYPE, type FileWire, type UploadedFile } from './io-file.ts';
import type { InputIO, MediaTypeMap, OutputIO, RequestPayload, ResponseBody } from './io-types.ts';
import { validationError } from './validation.ts';

export const IMAGE_FORMATS = ['png', 'jpeg', 'webp', 'gif', 'avif', 'tiff'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

const MEDIA_TYPE: Record<ImageFormat, string> = {
  png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', avif: 'image/avif', tiff: 'image/tiff',
};

/** Raw pixels: `height` rows of `width` pixels of `channels` (1-4) interleaved 8-bit values. */
export interface RawImage {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** An image as the handler receives it. */
export interface DecodedImage extends RawImage {
  channels: 1 | 2 | 3 | 4;
  data: Buffer;
  /** The format the bytes were in. */
  format: ImageFormat;
  /** The bytes as sent, with their declared type and name. */
  original: UploadedFile;
}

/** What a handler may return for an image output: encoded bytes (sent as they are) or raw pixels (encoded). */
export type ImageOutputValue = Uint8Array | RawImage;

export interface ImageOptions {
  /** Formats taken (inputs) or produced from raw pixels (outputs: the first). Default: png, jpeg, webp, gif, avif, tiff. */
  formats?: readonly ImageFormat[];
  /** Converts every input to this many channels: 1 grey, 3 RGB, 4 RGBA. Default: as decoded. */
  channels?: 1 | 3 | 4;
  /** The multipart field that holds the image. Default: the first file part. */
  field?: string;
  /** Refuses images with more pixels than this (decompression bombs). Default 40 megapixels. */
  maxPixels?: number;
}

type SharpFactory = typeof import('sharp');
type Sharp = ReturnType<SharpFactory>;
let sharpLoading: Promise<SharpFactory> | undefined;

async function loadSharp(): Promise<SharpFactory> {
  sharpLoading ??= import('sharp').then((m) => m.default);
  return sharpLoading;
}

function isImageFormat(value: unknown): value is ImageFormat {
  return typeof value === 'string' && (IMAGE_FORMATS as readonly string[]).includes(value);
}

export class ImageIO implements InputIO<DecodedImage, FileWire>, OutputIO<ImageOutputValue, Blob> {
  readonly kind = 'image';
  readonly accepts: readonly string[];
  readonly formats: readonly ImageFormat[];
  private readonly options: ImageOptions;
  declare readonly '~input'?: { value: DecodedImage; wire: FileWire };
  declare readonly '~output'?: { returned: ImageOutputValue; wire: Blob };

  constructor(options: ImageOptions = {}) {
    this.options = options;
    this.formats = options.formats?.length ? options.formats : IMAGE_FORMATS;
    // octet-stream too: sharp tells the format from the bytes, so clients need not know it.
    this.accepts = [...this.formats.map((f) => MEDIA_TYPE[f]), 'application/octet-stream', MULTIPART_MEDIA_TYPE];
  }

  async parse(payload: RequestPayload): Promise<DecodedImage> {
    const original = fileFromPayload(payload, [...this.formats.map((f) => MEDIA_TYPE[f]), 'application/octet-stream'], this.options.field, 'image');
    if (original.size === 0) throw validationError([{ path: [], message: 'the image is empty' }]);
    const sharp = await loadSharp();
    const maxPixels = this.options.maxPixels ?? 40_000_000;
    let format: string | undefined;
    let pipeline: Sharp;
    try {
      pipeline = sharp(original.data, { limitInputPixels: maxPixels, failOn: 'error' });
      format = (await pipeline.metadata()).format;
    } catch (err) {
      throw validationError([{ path: [], message: `not a decodable image: ${messageOf(err)}` }]);
    }
    if (!isImageFormat(format) || !this.formats.includes(format)) {
      throw new TiffinError('UNSUPPORTED_MEDIA_TYPE', `the image is ${format ?? 'of an unknown format'}; this API takes ${this.formats.join(', ')}`, {
        details: { accepted: this.formats.map((f) => MEDIA_TYPE[f]) },
      });
    }
    const channels = this.options.channels;
    if (channels === 1) pipeline = pipeline.toColourspace('b-w');
    else if (channels === 3) pipeline = pipeline.removeAlpha().toColourspace('srgb');
    else if (channels === 4) pipeline = pipeline.ensureAlpha().toColourspace('srgb');
    try {
      const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      return { width: info.width, height: info.height, channels: info.channels, data, format, original };
    } catch (err) {
      throw validationError([{ path: [], message: `could not decode the image: ${messageOf(err)}` }]);
    }
  }

  async serialize(value: ImageOutputValue): Promise<ResponseBody> {
    const sharp = await loadSharp();
    if (value instanceof Uint8Array) {
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      let format: string | undefined;
      try {
        format = (await sharp(bytes).metadata()).format;
      } catch (err) {
        throw new TiffinError('HANDLER_FAILED', `the handler returned bytes that are not an image: ${messageOf(err)}`);
      }
      const contentType = isImageFormat(format) ? MEDIA_TYPE[format] : 'application/octet-stream';
      return { type: 'body', contentType, body: bytes };
    }
    const format = this.formats[0] ?? 'png';
    const { width, height, channels, data } = value;
    if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
      throw new TiffinError('HANDLER_FAILED', `the handler returned an image with ${channels} channels; images have 1 to 4`);
    }
    try {
      let pipeline = sharp(data, { raw: { width, height, channels } });
      // sharp writes sRGB unless told otherwise; grey pixels stay grey.
      if (channels <= 2) pipeline = pipeline.toColourspace('b-w');
      const body = await pipeline.toFormat(format).toBuffer();
      return { type: 'body', contentType: MEDIA_TYPE[format], body };
    } catch (err) {
      throw new TiffinError('HANDLER_FAILED', `could not encode the handler's image as ${format}: ${messageOf(err)}`);
    }
  }

  requestContent(): MediaTypeMap {
    const content: MediaTypeMap = {};
    for (const f of this.formats) content[MEDIA_TYPE[f]] = { schema: { type: 'string', format: 'binary' } };
    content['application/octet-stream'] = { schema: { type: 'string', format: 'binary', description: `an image in one of: ${this.formats.join(', ')}` } };
    const field = this.options.field ?? 'image';
    content[MULTIPART_MEDIA_TYPE] = {
      schema: { type: 'object', required: [field], properties: { [field]: { type: 'string', format: 'binary' } } },
      encoding: { [field]: { contentType: this.formats.map((f) => MEDIA_TYPE[f]).join(', ') } },
    };
    return content;
  }

  responseContent(): MediaTypeMap {
    const content: MediaTypeMap = {};
    for (const f of this.formats) content[MEDIA_TYPE[f]] = { schema: { type: 'string', format: 'binary' } };
    return content;
  }
}

/** An image, decoded into raw pixels for the handler (inputs) or encoded from them (outputs). */
export function image(options?: ImageOptions): ImageIO {
  return new ImageIO(options);
}
