import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { ZodValidationException } from 'nestjs-zod';
import { WrongExpectedVersionError } from '@fleetledger/eventstore';

/**
 * An error a service reports to its caller: a stable code from the service's taxonomy, an HTTP status
 * and details. Domain code returns rejections as values; handlers turn them into ServiceErrors.
 */
export class ServiceError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly httpStatus: number = HttpStatus.UNPROCESSABLE_ENTITY,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/**
 * One service's error taxonomy: every reason it refuses a request with, and the HTTP status of each.
 * The statuses are a record over the service's reason union, so a reason the domain gains does not
 * compile until it has a status (no fallback status hides a forgotten one). Inside a Kafka handler
 * the same reason is the reply's reason code or the dead letter's reason.
 */
export class ErrorTaxonomy<Reason extends string> {
  constructor(private readonly statuses: { readonly [R in Reason]: HttpStatus }) {}

  status(reason: Reason): HttpStatus {
    return this.statuses[reason];
  }

  /** The error a rejection becomes at the edge: the reason is the code, the detail the message. */
  error(
    rejection: { reason: Reason; detail: string },
    details?: Record<string, unknown>,
  ): ServiceError<Reason> {
    return new ServiceError(rejection.reason, rejection.detail, this.statuses[rejection.reason], details);
  }

  /** Whether `error` is a refusal of this taxonomy (and so has one of its reasons as its code). */
  owns(error: unknown): error is ServiceError<Reason> {
    return error instanceof ServiceError && Object.prototype.hasOwnProperty.call(this.statuses, error.code);
  }

  get reasons(): Reason[] {
    return Object.keys(this.statuses) as Reason[];
  }
}

interface HttpResponse {
  status(code: number): { json(body: unknown): void };
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
}

/** Maps any error to one JSON shape: `{ statusCode, error: <code>, message, details }`. */
export function toErrorBody(exception: unknown): ErrorBody {
  if (exception instanceof ServiceError) {
    return {
      statusCode: exception.httpStatus,
      error: exception.code,
      message: exception.message,
      details: exception.details,
    };
  }
  if (exception instanceof WrongExpectedVersionError) {
    return {
      statusCode: HttpStatus.CONFLICT,
      error: exception.code,
      message: exception.message,
      details: {
        streamId: exception.streamId,
        expectedVersion: exception.expectedVersion,
        actualVersion: exception.actualVersion,
      },
    };
  }
  if (exception instanceof ZodValidationException) {
    const zodError = exception.getZodError() as { issues?: { path: PropertyKey[]; message: string }[] };
    return {
      statusCode: HttpStatus.BAD_REQUEST,
      error: 'invalid-request',
      message: 'the request does not match its schema',
      details: (zodError.issues ?? []).map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    };
  }
  if (isClientHttpError(exception)) {
    // Raised by the body parser before any handler runs: too large (413), malformed JSON (400), ...
    return {
      statusCode: exception.status,
      error: httpErrorCode(exception.status),
      message: exception.message,
    };
  }
  if (exception instanceof HttpException) {
    const response = exception.getResponse();
    const message =
      typeof response === 'string'
        ? response
        : ((response as { message?: string }).message ?? exception.message);
    return {
      statusCode: exception.getStatus(),
      error: httpErrorCode(exception.getStatus()),
      message: String(message),
    };
  }
  return { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, error: 'internal-error', message: 'internal error' };
}

const HTTP_ERROR_CODES: Record<number, string> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'too-many-requests',
};

function httpErrorCode(status: number): string {
  return HTTP_ERROR_CODES[status] ?? 'http-error';
}

function isClientHttpError(
  exception: unknown,
): exception is { status: number; message: string; expose: true } {
  const candidate = exception as { status?: unknown; expose?: unknown };
  return (
    exception instanceof Error &&
    !(exception instanceof HttpException) &&
    candidate.expose === true &&
    typeof candidate.status === 'number' &&
    candidate.status >= 400 &&
    candidate.status < 500
  );
}

@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const body = toErrorBody(exception);
    if (body.statusCode >= 500)
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    host.switchToHttp().getResponse<HttpResponse>().status(body.statusCode).json(body);
  }
}
