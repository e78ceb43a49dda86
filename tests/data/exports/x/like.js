window.YTD.like.part0 = [
  {
    "like": {
      "tweetId": "1790000000000000001",
      "fullText": "hello world",
      "expandedUrl": "https://twitter.com/i/web/status/1790000000000000001"
    }
  },
  {
    "like": {
      "tweetId": "1790000000000000002",
      "fullText": "a thread",
      "expandedUrl": "https://twitter.com/Jack_Doe/status/1790000000000000002"
    }
  },
  {
    "like": {
      "tweetId": "1790000000000000003",
      "fullText": "new name",
      "expandedUrl": "https://x.com/someone/status/1790000000000000003"
    }
  },
  {
    "like": {
      "tweetId": "1790000000000000004",
      "fullText": "mismatch",
      "expandedUrl": "https://x.com/liar/status/1"
    }
  },
  {
    "like": {
      "tweetId": "not-a-number"
    }
  }
]