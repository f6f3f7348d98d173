// The `io` namespace: every input and output kind an API can declare. A bare zod schema means io.json.
import { file } from './io-file.ts';
import { image } from './io-image.ts';
import { json } from './io-json.ts';
import { multipart } from './io-multipart.ts';
import { stream } from './io-stream.ts';
import { tensor } from './io-tensor.ts';
import { text } from './io-text.ts';

export const io = { json, text, tensor, image, file, multipart, stream } as const;
