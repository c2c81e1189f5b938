package mockgemini_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// A key-pool test: one key is rate limited twice and then heals.
func Example() {
	mock := mockgemini.New(mockgemini.Options{})
	url, err := mock.Listen("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer mock.Close()
	mock.SetFault("key-a", mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: 2 * time.Second, Times: 2})

	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("POST", url+"/v1beta/models/gemini-2.5-flash:generateContent",
			strings.NewReader(`{"contents":[{"parts":[{"text":"hi"}]}]}`))
		req.Header.Set("x-goog-api-key", "key-a")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	fmt.Println(mock.Requests("key-a"))
	// Output:
	// 429
	// 429
	// 200
	// 3
}
