import { CStoreDestination } from './c-store-destination.js';
import type { DestinationConfig } from '../forward/delivery-config.js';
import type { Destination } from '../forward/destination.js';
import { FolderDestination } from './folder-destination.js';
import { OrthancRestDestination } from './orthanc-rest-destination.js';
import { StowRsDestination } from './stow-rs-destination.js';

/** Builds the configured destinations. The one place that knows every concrete kind. */
export function createDestination(config: DestinationConfig): Destination {
  switch (config.kind) {
    case 'stow-rs':
      return new StowRsDestination({
        name: config.name, url: config.url, auth: config.auth ?? { type: 'none' },
        ...(config.caFile ? { caFile: config.caFile } : {}),
        ...(config.maxInstancesPerRequest ? { maxInstancesPerRequest: config.maxInstancesPerRequest } : {}),
        ...(config.maxBytesPerRequest ? { maxBytesPerRequest: config.maxBytesPerRequest } : {}),
      });
    case 'orthanc-rest':
      return new OrthancRestDestination({
        name: config.name, url: config.url, auth: config.auth ?? { type: 'none' },
        ...(config.caFile ? { caFile: config.caFile } : {}),
      });
    case 'c-store':
      return new CStoreDestination({
        name: config.name, host: config.host, port: config.port, calledAet: config.calledAet,
        ...(config.callingAet ? { callingAet: config.callingAet } : {}),
      });
    case 'folder':
      return new FolderDestination({ name: config.name, directory: config.directory });
  }
}
