/**
 * File uploads with progress (fetch cannot report an upload's progress; XHR can).
 * The body is the file itself, streamed by the browser; the answer is parsed like
 * http.js does, so callers get JSON or an ApiError.
 */
import { ApiError } from './http.js';

/** @returns {import('../domain/your-data-model.js').Uploader} */
export function createUploader() {
  return (path, file, onProgress) => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'The upload broke off.'));
    xhr.onload = () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && data) {
        resolve(data);
        return;
      }
      const error = data && typeof data === 'object' ? data.error : null;
      reject(new ApiError(xhr.status, error?.code ?? `http_${xhr.status}`, error?.message ?? 'The upload was refused.'));
    };
    xhr.send(file);
  });
}
