// Owns: TorchServe-style inference routes (/ping, /predictions/{model}[/{version}]) with a generic JSON handler.
// Knows nothing about: how models load or run (it calls a ModelRepository), other protocols.
export { torchServeRoutes, type TorchServeOptions } from './routes.ts';
