/**
 * Typed errors of the hub, each with a stable code and HTTP status.
 * Tests and clients match on `code`; the text may change.
 */
export class MusterError extends Error {
  readonly code: string;
  readonly statusCode: number;
  /** Extra fields for the JSON error body (e.g. `suggestions`). */
  readonly details: Record<string, unknown> | undefined;
  constructor(code: string, statusCode: number, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options);
    this.name = 'MusterError';
    this.code = code;
    this.statusCode = statusCode;
    this.details = options?.details;
  }
}

const define = (code: string, statusCode: number) => (message: string, cause?: unknown, details?: Record<string, unknown>) =>
  new MusterError(code, statusCode, message, { ...(cause === undefined ? {} : { cause }), ...(details ? { details } : {}) });

/** The request carries no bearer token, or one the hub does not know. */
export const unauthorized = define('MUSTER_ERR_UNAUTHORIZED', 401);
/**
 * The token is valid but may not do this: its role lacks the permission, or a
 * deployer's scope leaves the service or node out. `details.permission` names
 * what was missing.
 */
export const forbidden = define('MUSTER_ERR_FORBIDDEN', 403);
/** A route was registered with no line in hub/access.ts's ROUTES: the hub will not serve a route nobody said who may call. */
export const routeWithoutAccess = define('MUSTER_ERR_ROUTE_WITHOUT_ACCESS', 500);
/** No node with that name. */
export const nodeNotFound = define('MUSTER_ERR_NODE_NOT_FOUND', 404);
/** The node is known but its agent is not connected: what it last sent is not served as if it were current (a per-node scrape's `up` becomes 0). */
export const nodeOffline = define('MUSTER_ERR_NODE_OFFLINE', 503);
/** No service with that name; `details.suggestions` holds close matches. */
export const serviceNotFound = define('MUSTER_ERR_SERVICE_NOT_FOUND', 404);
/** No token with that id. */
export const tokenNotFound = define('MUSTER_ERR_TOKEN_NOT_FOUND', 404);
/** A request body, query or parameter failed validation. */
export const badRequest = define('MUSTER_ERR_BAD_REQUEST', 400);
/** A node name (or a name with its DNS label) is held by another node, and no admin allowed a replacement. */
export const nameTaken = define('MUSTER_ERR_NODE_NAME_TAKEN', 409);
/** Configuration given at start is invalid. */
export const badConfig = define('MUSTER_ERR_CONFIG', 500);
/** No deploy job with that id. */
export const jobNotFound = define('MUSTER_ERR_JOB_NOT_FOUND', 404);
/** No node can take a placement request (and the caller did not force one); `details.placement` says why for each. */
export const noPlacement = define('MUSTER_ERR_NO_PLACEMENT', 409);
/** No silence with that id. */
export const silenceNotFound = define('MUSTER_ERR_SILENCE_NOT_FOUND', 404);
/** The SMTP server does not offer STARTTLS, and credentials are configured: the hub will not send them in clear. */
export const smtpTlsRequired = define('MUSTER_ERR_SMTP_TLS_REQUIRED', 502);
