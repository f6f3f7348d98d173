// Module resolution hooks (node:module register) for `tiffin serve <bundle>` when the bundle folder has no
// node_modules of its own (a bundle served from the store on the developer's machine): a bare import from the
// bundle's code that Node cannot resolve there is resolved from the running tiffin package instead, which has the
// same dependencies installed (the serve command checks their versions against the bundle's and warns).
// In an image, `npm ci` fills the bundle's node_modules and these hooks are not registered.
let bundleUrl = '';
let fallbackParent = '';

export function initialize(data) {
  bundleUrl = data.bundleUrl;
  fallbackParent = data.fallbackParent;
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const bare = !/^(\.|\/|file:|node:|data:)/.test(specifier);
    if (!bare || err?.code !== 'ERR_MODULE_NOT_FOUND' || !context.parentURL?.startsWith(bundleUrl)) throw err;
    return nextResolve(specifier, { ...context, parentURL: fallbackParent });
  }
}
