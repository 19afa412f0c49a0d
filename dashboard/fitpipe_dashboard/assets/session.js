// When the session ends (sign-out elsewhere, expiry, idleness, an admin disabling the account), the
// dashboard answers Dash's requests with 401 and X-Fitpipe-Sign-In: go there instead of leaving a page
// whose charts silently stop updating.
(function () {
    const original = window.fetch;
    window.fetch = function () {
        return original.apply(this, arguments).then(function (response) {
            const target = response.status === 401 && response.headers.get('X-Fitpipe-Sign-In');
            if (target) {
                window.location.assign(target);
            }
            return response;
        });
    };
})();
