// The bundle's entry: window.CollabSDK.
//   CollabSDK.init({ gatewayUrl, token })   make the page collaborative (see sdk.ts)
//   CollabSDK.CollabProvider                 y-websocket-shaped provider for any Y.js editor binding
//   CollabSDK.Y, CollabSDK.awarenessProtocol the bundled yjs and y-protocols/awareness: editor bindings
//                                            must use this Y (one yjs per page), e.g. by aliasing 'yjs'
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';

export { init, logout, instances, CollabInstance, OfflineStore, isCollaborative } from './sdk';
export { CollabProvider } from './provider/provider';
export { FieldBinding, transformIndex } from './binding';
export { findFields, baseId, assignIds } from './discovery';
export { deriveResourceId } from './util';
export { Y, awarenessProtocol };
export const version = '0.1.0';
