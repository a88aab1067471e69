// AppError carries a status and a message written for the operator; anything else is a 500 with a generic message.
export class AppError extends Error {
  constructor(
    public readonly status: number,
    message: string,
    /** Field-level validation messages, keyed by form field / import path. */
    public readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, fields?: Record<string, string>) => new AppError(400, message, fields);
export const forbidden = (message = 'You do not have permission to do that.') => new AppError(403, message);
export const notFound = (what = 'That page') => new AppError(404, `${what} does not exist.`);
export const conflict = (message: string) => new AppError(409, message);
