// Streamed outputs: the handler is an async generator, each item goes out as one server-sent event
// (`id: <n>\ndata: <json>\n\n`, n counting from 0). Items are checked against the item schema as they pass.
import type { z } from 'zod';
import { TiffinError } from '../errors/index.ts';
import type { MediaTypeMap, OutputIO, ResponseBody } from './io-types.ts';
import { jsonSchemaOf } from './io-json.ts';
import { issuesFromZod } from './validation.ts';

export const EVENT_STREAM_MEDIA_TYPE = 'text/event-stream';

/** One SSE frame. Multi-line data becomes several `data:` lines, as the SSE format requires. */
export function sseFrame(data: string, event?: string, id?: string | number): string {
  const lines = data.split(/\r\n|\r|\n/).map((l) => `data: ${l}\n`).join('');
  return `${event ? `event: ${event}\n` : ''}${id !== undefined ? `id: ${id}\n` : ''}${lines}\n`;
}

/** What a streaming handler may produce: an async generator, or any (async) iterable. */
export type StreamSource<T> = AsyncIterable<T> | Iterable<T>;

export class StreamIO<S extends z.ZodType> implements OutputIO<StreamSource<z.input<S>>, AsyncIterable<z.output<S>>> {
  readonly kind = 'stream';
  declare readonly '~output'?: { returned: StreamSource<z.input<S>>; wire: AsyncIterable<z.output<S>> };

  constructor(readonly item: S) {}

  async serialize(value: StreamSource<z.input<S>>): Promise<ResponseBody> {
    if (value === null || typeof value !== 'object' || !(Symbol.asyncIterator in value || Symbol.iterator in value)) {
      throw new TiffinError('HANDLER_FAILED', 'a streaming API handler must return an async iterable (write it as `async *handler(...)`)');
    }
    return { type: 'events', contentType: `${EVENT_STREAM_MEDIA_TYPE}; charset=utf-8`, frames: this.frames(value) };
  }

  /** Validated, framed items. `return()` on this generator closes the handler's generator too (for-of does it). */
  private async *frames(source: StreamSource<z.input<S>>): AsyncGenerator<string, void, undefined> {
    let index = 0;
    for await (const item of source) {
      const result = await this.item.safeParseAsync(item);
      if (!result.success) {
        throw new TiffinError('HANDLER_FAILED', `stream item ${index} does not match the item schema`, {
          details: { issues: issuesFromZod(result.error, [index]) },
        });
      }
      // The item's index as the event id: a client that reconnects knows how far it got (Last-Event-ID).
      yield sseFrame(JSON.stringify(result.data) ?? 'null', undefined, index);
      index += 1;
    }
  }

  responseContent(): MediaTypeMap {
    return {
      [EVENT_STREAM_MEDIA_TYPE]: {
        schema: {
          type: 'string',
          description: 'server-sent events: one `data: <json>` event per item, its `id:` the item index from 0 (its schema is x-item-schema); an `event: error` frame carries { code, message, requestId } if the stream fails midway',
        },
        // OpenAPI 3.2 names this `itemSchema`; 3.1 has no keyword for it, hence an extension.
        'x-item-schema': jsonSchemaOf(this.item, 'output'),
      },
    };
  }
}

/** A stream of JSON items, sent as server-sent events; the handler is an async generator. */
export function stream<S extends z.ZodType>(item: S): StreamIO<S> {
  return new StreamIO(item);
}
